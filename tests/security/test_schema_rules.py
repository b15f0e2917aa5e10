"""Rules the API enforces are stated in its schema, so a schema-generated client is not
surprised by a 400: the phone's shape, no control characters in text, one of purchase_id or
order_id on a refund, and no undeclared fields."""

from __future__ import annotations

import re

import pytest

from tests.integrations.api_client import assert_problem, client_for, post
from tests.integrations.test_openapi import served_schema

SCHEMAS = served_schema()["components"]["schemas"]


def _pattern(schema: str, field: str) -> re.Pattern[str]:
    return re.compile(SCHEMAS[schema]["properties"][field]["pattern"])


def test_phone_shape_is_in_the_schema():
    pattern = _pattern("CustomerRegisterInputRequest", "phone")
    assert not pattern.search("0") and not pattern.search("abc")
    assert pattern.search("+79161234567") and pattern.search("8 (916) 123-45-67")


@pytest.mark.parametrize("schema", ["PurchaseCommitInputRequest", "RefundCreateInputRequest"])
def test_control_characters_in_order_id_are_outside_the_schema(schema):
    pattern = _pattern(schema, "order_id")
    assert pattern.search("order-42/A") and not pattern.search("a\x01b")
    assert not pattern.search("a\tb") and not pattern.search("a\x7fb")


def test_refund_states_one_of_purchase_id_or_order_id_and_no_extra_fields():
    refund = SCHEMAS["RefundCreateInputRequest"]
    assert refund["oneOf"] == [{"required": ["purchase_id"]}, {"required": ["order_id"]}]
    assert refund["additionalProperties"] is False


@pytest.mark.django_db
def test_the_server_enforces_what_the_schema_states(setup, customer):
    from integrations.services import api_key_issue

    api = client_for(api_key_issue(merchant=setup.merchant).plaintext)
    body = {
        "customer_id": str(customer.id),
        "amount_minor": 100,
        "order_id": "a\x01b",
        "outlet_id": str(setup.outlet.id),
    }
    problem = assert_problem(post(api, "purchases", body, key="k-ctl"), 400, "validation-error")
    assert "order_id" in problem["errors"]
    problem = assert_problem(post(api, "customers", {"phone": "0"}), 400)
    assert "phone" in problem["errors"]
    assert_problem(post(api, "refunds", {"amount_minor": 1}, key="k-none"), 400)


@pytest.mark.parametrize("schema", ["LoginInRequest", "RefreshInRequest"])
def test_portal_bodies_state_that_unknown_fields_are_refused(schema):
    assert SCHEMAS[schema]["additionalProperties"] is False


def test_a_blank_order_id_is_outside_the_schema():
    pattern = _pattern("PurchaseCommitInputRequest", "order_id")
    assert not pattern.search("   ") and pattern.search(" a ")
    name = SCHEMAS["CustomerRegisterInputRequest"]["properties"]["name"]["oneOf"][0]
    assert re.compile(name["pattern"]).search("")  # name may be blank


@pytest.mark.django_db
def test_the_server_refuses_a_blank_order_id(setup, customer):
    from integrations.services import api_key_issue

    api = client_for(api_key_issue(merchant=setup.merchant).plaintext)
    body = {
        "customer_id": str(customer.id),
        "amount_minor": 100,
        "order_id": "   ",
        "outlet_id": str(setup.outlet.id),
    }
    problem = assert_problem(post(api, "purchases", body, key="k-blank"), 400, "validation-error")
    assert "order_id" in problem["errors"]
