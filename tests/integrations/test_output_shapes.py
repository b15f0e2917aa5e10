"""The hot operations answer their payload without the output serializer (integrations.apis,
SHAPED): on real answers, the serializer that declares each shape returns the body unchanged,
so the schema and the answers cannot drift apart."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.apis import CodeRedeemApi, PurchaseCalculateApi, PurchaseCommitApi
from integrations.fields import CustomerOutput
from loyalty.services import customer_code_issue
from tests.factories import make_customer
from tests.integrations.api_client import get, post, purchase_body

pytestmark = pytest.mark.django_db


def _unchanged(output: Any, body: dict[str, Any]) -> None:
    assert dict(output(body).data) == body


@pytest.mark.parametrize("redeem", [0, 50])
def test_the_hot_answers_are_their_declared_shapes(api, setup, redeem):
    customer = make_customer(setup.merchant, points=120)
    code = customer_code_issue(customer=customer)

    found = post(api, "code", {"code": code})
    assert found.status_code == 200
    assert set(found.json()) == {"customer"}
    _unchanged(CustomerOutput, found.json()["customer"])
    _unchanged(CodeRedeemApi.CodeRedeemOutput, found.json())

    read = get(api, f"customers/{customer.id}")
    assert read.status_code == 200
    _unchanged(CustomerOutput, read.json())

    body = purchase_body(setup, customer, redeem_points=redeem)
    quoted = post(api, "calculate", {k: v for k, v in body.items() if k != "order_id"})
    assert quoted.status_code == 200, quoted.json()
    _unchanged(PurchaseCalculateApi.PurchaseCalculateOutput, quoted.json())

    committed = post(api, "purchases", body, key=f"shape-{redeem}")
    assert committed.status_code == 201, committed.json()
    _unchanged(PurchaseCommitApi.PurchaseOutput, committed.json())
    assert committed.json()["outlet_id"] == str(setup.outlet.id)
    assert committed.json()["device_id"] is None  # a null field keeps its null
