"""POST code, GET customers/{id}, GET customers?phone=, POST customers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.models import Customer, CustomerCode
from loyalty.services import customer_code_issue
from outbox.models import OutboxEvent
from tests.factories import make_customer
from tests.integrations.api_client import BASE, assert_problem, get, post

pytestmark = pytest.mark.django_db

CUSTOMER_FIELDS = {"id", "phone", "name", "balance_points", "tier"}


# --- POST code -------------------------------------------------------------------------------


def test_code_answers_the_customer_with_balance(api, merchant):
    customer = make_customer(merchant, points=70)
    code = customer_code_issue(customer=customer)
    response = post(api, "code", {"code": code})
    assert response.status_code == 200
    body = response.json()["customer"]
    assert set(body) >= CUSTOMER_FIELDS
    assert body["id"] == str(customer.id) and body["balance_points"] == 70
    assert body["phone"] == customer.phone


def test_code_is_single_use(api, customer):
    code = customer_code_issue(customer=customer)
    assert post(api, "code", {"code": code}).status_code == 200
    problem = assert_problem(post(api, "code", {"code": code}), 404, "code-invalid")
    assert "new code" in problem["detail"]


def test_code_with_spaces_and_dashes_is_accepted(api, customer):
    code = customer_code_issue(customer=customer)
    spaced = f"{code[:3]} {code[3:6]}-{code[6:]}"
    assert post(api, "code", {"code": spaced}).json()["customer"]["id"] == str(customer.id)


def test_expired_code_is_404(api, customer):
    code = customer_code_issue(customer=customer, now=timezone.now() - timedelta(hours=1))
    assert_problem(post(api, "code", {"code": code}), 404, "code-invalid")


def test_another_merchants_code_is_404_and_stays_unused(other_api, customer):
    code = customer_code_issue(customer=customer)
    assert_problem(post(other_api, "code", {"code": code}), 404, "code-invalid")
    assert CustomerCode.objects.get(customer=customer).used_at is None


@pytest.mark.parametrize(
    "body",
    [{}, {"code": ""}, {"code": "abc"}, {"code": 123456789}, {"code": "12"}, {"code": "1" * 40}],
)
def test_code_validation(api, body):
    problem = assert_problem(post(api, "code", body), 400, "validation-error")
    assert "code" in problem["errors"]


# --- GET customers/{id} ----------------------------------------------------------------------


def test_get_customer(api, customer):
    response = get(api, f"customers/{customer.id}")
    assert response.status_code == 200
    assert response.json()["id"] == str(customer.id)
    assert set(response.json()) >= CUSTOMER_FIELDS


def test_get_customer_of_another_merchant_is_404(other_api, customer):
    assert_problem(get(other_api, f"customers/{customer.id}"), 404, "not-found")


def test_get_unknown_or_malformed_customer_id_is_404(api):
    assert_problem(get(api, "customers/5d0c7a8e-3b1f-4c1e-9a57-0b2f6d1e8c44"), 404, "not-found")
    assert_problem(get(api, "customers/not-a-uuid"), 404, "not-found")


# --- GET customers?phone= --------------------------------------------------------------------


@pytest.mark.parametrize("phone", ["+79165550101", "8 916 555-01-01", "+7 (916) 555 01 01"])
def test_find_by_phone_normalises_it(api, merchant, phone):
    customer = make_customer(merchant, phone="+79165550101")
    response = get(api, "customers", {"phone": phone})
    assert response.status_code == 200
    assert response.json()["id"] == str(customer.id)


def test_find_by_phone_accepts_an_unencoded_plus(api, merchant):
    customer = make_customer(merchant, phone="+447911123456")
    response = api.get(BASE + "customers?phone=+447911123456")  # "+" decodes as a space
    assert response.json()["id"] == str(customer.id)


def test_find_by_phone_unknown_is_404(api):
    assert_problem(get(api, "customers", {"phone": "+79165550199"}), 404, "not-found")


def test_find_by_phone_of_another_merchant_is_404(other_api, customer):
    assert_problem(get(other_api, "customers", {"phone": customer.phone}), 404, "not-found")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "phone"),
        ({"phone": "12"}, "phone"),
        ({"phone": "+7916"}, "phone"),
        ({"phone": "+79165550101", "email": "x@y.z"}, "email"),
    ],
)
def test_find_by_phone_validation(api, params, field):
    problem = assert_problem(get(api, "customers", params), 400, "validation-error")
    assert field in problem["errors"]


# --- POST customers --------------------------------------------------------------------------


def test_register_customer(api, merchant):
    response = post(api, "customers", {"phone": "8 (916) 555-02-02", "name": "Bob"})
    assert response.status_code == 201
    body = response.json()
    assert body["phone"] == "+79165550202" and body["name"] == "Bob"
    assert body["balance_points"] == 0 and body["tier"] is None
    assert Customer.objects.get(id=body["id"]).merchant == merchant
    assert OutboxEvent.objects.filter(event_type="customer.created").count() == 1


def test_register_name_is_optional(api):
    assert post(api, "customers", {"phone": "+79165550203"}).json()["name"] == ""


def test_register_existing_phone_is_409_naming_the_customer(api, customer):
    problem = assert_problem(post(api, "customers", {"phone": customer.phone}), 409, "conflict")
    assert problem["customer_id"] == str(customer.id)
    assert str(customer.id) in problem["detail"]


def test_same_phone_at_another_merchant_is_a_new_customer(other_api, customer):
    response = post(other_api, "customers", {"phone": customer.phone})
    assert response.status_code == 201
    assert response.json()["id"] != str(customer.id)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "phone"),
        ({"phone": "hello"}, "phone"),
        ({"phone": "+7916"}, "phone"),
        ({"phone": 79165550101}, "phone"),
        ({"phone": None}, "phone"),
        ({"phone": "+79165550204", "name": "x" * 201}, "name"),
        ({"phone": "+79165550204", "email": "a@b.c"}, "email"),
    ],
)
def test_register_validation(api, body, field):
    problem = assert_problem(post(api, "customers", body), 400, "validation-error")
    assert field in problem["errors"]
    assert problem["errors"][field][0]
    assert Customer.objects.count() == 0
