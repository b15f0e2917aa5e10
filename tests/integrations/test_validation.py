"""Every kind of invalid input answers 400 problem+json naming the field and how to fix it."""

from __future__ import annotations

import uuid

import pytest

from loyalty.models import Purchase
from loyalty.pricing import MAX_AMOUNT_MINOR
from tests.integrations.api_client import BASE, assert_problem, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def valid(setup, customer):
    """A valid purchase body; each case below breaks one thing."""
    return {
        "customer_id": str(customer.id),
        "amount_minor": 100_00,
        "redeem_points": 0,
        "order_id": "V-1",
        "outlet_id": str(setup.outlet.id),
    }


BREAKAGES = [
    # (change, field named in errors, words the hint contains)
    ({"colour": "red"}, "colour", "Unknown field"),
    ({"amount_minor": None}, "amount_minor", "null"),
    ({"amount_minor": 0}, "amount_minor", "minor units"),
    ({"amount_minor": -5}, "amount_minor", "minor units"),
    ({"amount_minor": MAX_AMOUNT_MINOR + 1}, "amount_minor", "minor units"),
    ({"amount_minor": 10**30}, "amount_minor", "minor units"),
    ({"amount_minor": "100"}, "amount_minor", "minor units"),
    ({"amount_minor": 100.5}, "amount_minor", "minor units"),
    ({"amount_minor": 100.0}, "amount_minor", "minor units"),
    ({"amount_minor": True}, "amount_minor", "minor units"),
    ({"amount_minor": [1]}, "amount_minor", "minor units"),
    ({"redeem_points": -1}, "redeem_points", "points"),
    ({"redeem_points": "5"}, "redeem_points", "points"),
    ({"customer_id": "123"}, "customer_id", "UUID"),
    ({"customer_id": 123}, "customer_id", "UUID"),
    ({"order_id": ""}, "order_id", "blank"),
    ({"order_id": 42}, "order_id", "string"),
    ({"order_id": "x" * 101}, "order_id", "100"),
    ({"outlet_id": "not-an-id"}, "outlet_id", "UUID"),
    ({"lines": [{"amount_minor": 100_00, "price": 1}]}, "lines.0.price", "Unknown field"),
    ({"lines": [{"amount_minor": 0}]}, "lines.0.amount_minor", "minor units"),
    ({"lines": [{"amount_minor": 100_00, "earns": "no"}]}, "lines.0.earns", ""),
    ({"lines": [{}]}, "lines.0.amount_minor", "required"),
    ({"lines": {"amount_minor": 1}}, "lines", ""),
    ({"lines": [{"amount_minor": 60_00}]}, "lines", "add up"),
]


@pytest.mark.parametrize(("change", "field", "hint"), BREAKAGES)
def test_purchase_field_errors(api, valid, change, field, hint):
    body = {**valid, **change}
    problem = assert_problem(
        post(api, "purchases", body, key=str(uuid.uuid4())), 400, "validation-error"
    )
    assert field in problem["errors"], problem
    assert hint.lower() in " ".join(problem["errors"][field]).lower(), problem
    assert field in problem["detail"] or "lines" in problem["detail"]
    assert Purchase.objects.count() == 0


@pytest.mark.parametrize("missing", ["amount_minor", "order_id"])
def test_missing_required_fields(api, valid, missing):
    body = {k: v for k, v in valid.items() if k != missing}
    problem = assert_problem(post(api, "purchases", body, key=str(uuid.uuid4())), 400)
    assert problem["errors"][missing] == ["This field is required."]


def test_all_errors_come_together(api, valid):
    body = {**valid, "amount_minor": -1, "redeem_points": "x", "colour": "red", "size": 1}
    problem = assert_problem(post(api, "purchases", body, key=str(uuid.uuid4())), 400)
    assert {"amount_minor", "redeem_points", "colour", "size"} <= set(problem["errors"])


@pytest.mark.parametrize("body", [[], ["a"], "text", 5, None])
def test_a_body_that_is_not_an_object(api, body):
    response = api.post(BASE + "calculate", body, format="json")
    assert_problem(response, 400, "validation-error")


def test_malformed_json_is_400(api):
    response = api.post(BASE + "calculate", b'{"amount_minor": ', content_type="application/json")
    assert_problem(response, 400, "malformed-json")


def test_a_body_that_is_not_json_is_415(api):
    response = api.post(
        BASE + "calculate", "amount_minor=1", content_type="application/x-www-form-urlencoded"
    )
    assert_problem(response, 415, "unsupported-media-type")
