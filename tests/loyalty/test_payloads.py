"""Event data and API answers come from one declaration per shape (loyalty.payloads)."""

from __future__ import annotations

import pytest

from integrations.apis import (
    LedgerEntryOutput,
    PurchaseCalculateApi,
    PurchaseCommitApi,
    RefundCreateApi,
)
from integrations.fields import CustomerOutput
from loyalty.models import LedgerEntry
from loyalty.payloads import (
    CustomerPayload,
    LedgerEntryPayload,
    PurchasePayload,
    QuotePayload,
    RefundResultPayload,
    customer_payload,
    ledger_entry_payload,
    purchase_payload,
)
from loyalty.services import points_adjust, purchase_commit, refund_create
from outbox.models import OutboxEvent
from tests.factories import make_customer

PURCHASE_KEYS = [
    "id",
    "order_id",
    "customer_id",
    "amount_minor",
    "earned_points",
    "redeemed_points",
    "redeemed_minor",
    "refunded_minor",
    "balance_points",
    "outlet_id",
    "device_id",
    "manager_id",
    "created_at",
]
REFUND_KEYS = [
    "id",
    "purchase_id",
    "order_id",
    "amount_minor",
    "earned_points_reversed",
    "earned_points_shortfall",
    "redeemed_points_returned",
    "created_at",
]


def _data(event_type: str) -> dict:
    return OutboxEvent.objects.filter(event_type=event_type).latest("id").payload["data"]


@pytest.mark.django_db
def test_event_data_keeps_its_shape(setup):
    customer = make_customer(setup.merchant, points=100)
    assert _data("customer.created")["id"] == str(customer.id)
    assert _data("points.adjusted") == {
        "customer_id": str(customer.id),
        "points": 100,
        "reason": "seed",
        "balance_points": 100,
    }
    purchase = purchase_commit(
        merchant=setup.merchant,
        customer_id=customer.id,
        amount_minor=100_00,
        redeem_points=10,
        order_id="shape-1",
        outlet_id=setup.outlet.id,
    )
    committed = _data("purchase.committed")
    assert list(purchase_payload(purchase, balance_points=94)) == PURCHASE_KEYS
    assert committed == purchase_payload(purchase, balance_points=94)
    assert committed["outlet_id"] == str(setup.outlet.id) and committed["device_id"] is None
    refund = refund_create(merchant=setup.merchant, purchase_id=purchase.id, amount_minor=50_00)
    refunded = _data("purchase.refunded")
    assert set(refunded) == {*REFUND_KEYS, "purchase", "balance_points"}
    assert refunded["id"] == str(refund.id) and refunded["order_id"] == "shape-1"
    assert refunded["purchase"]["refunded_minor"] == 50_00
    assert refunded["balance_points"] == refunded["purchase"]["balance_points"]
    assert refunded["created_at"] == refund.created_at.isoformat()


@pytest.mark.django_db
def test_api_answers_are_the_payload_dicts(setup):
    customer = make_customer(setup.merchant)
    points_adjust(merchant=setup.merchant, customer_id=customer.id, points=5, reason="gift")
    customer.refresh_from_db()
    payload = customer_payload(customer)
    assert CustomerOutput(payload).data == payload
    entry = LedgerEntry.objects.filter(customer=customer).latest("id")
    assert LedgerEntryOutput(ledger_entry_payload(entry)).data == ledger_entry_payload(entry)


@pytest.mark.parametrize(
    ("serializer", "shape"),
    [
        (CustomerOutput, CustomerPayload),
        (PurchaseCommitApi.PurchaseOutput, PurchasePayload),
        (PurchaseCalculateApi.PurchaseCalculateOutput, QuotePayload),
        (RefundCreateApi.RefundOutput, RefundResultPayload),
        (LedgerEntryOutput, LedgerEntryPayload),
    ],
)
def test_output_serializers_declare_the_payload_fields(serializer, shape):
    assert list(serializer().fields) == list(shape.__annotations__)
    assert serializer.__doc__ == shape.__doc__
