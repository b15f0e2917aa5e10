"""The dashboard's figures and delivery health, from real purchases and real deliveries to a
receiver on loopback; tenant-scoped."""

from __future__ import annotations

import pytest

from loyalty.services import purchase_commit, refund_create
from outbox.services import webhook_endpoint_create
from tests.factories import make_customer, make_merchant
from tests.portal.conftest import deliver_due

pytestmark = pytest.mark.django_db


def test_dashboard_figures_and_delivery_health(setup, staff, as_viewer, receiver):
    receiver.respond = lambda req, n: (500, {}, b"boom", 0) if n == 1 else (200, {}, b"ok", 0)
    endpoint, _secret = webhook_endpoint_create(merchant=setup.merchant, url=receiver.url)
    ann, bob = make_customer(setup.merchant), make_customer(setup.merchant)
    for customer, order, amount in ((ann, "A-1", 100_00), (ann, "A-2", 50_00), (bob, "B-1", 20_00)):
        purchase_commit(
            merchant=setup.merchant,
            customer_id=customer.id,
            amount_minor=amount,
            order_id=order,
            outlet_id=setup.outlet.id,
        )
    refund_create(merchant=setup.merchant, order_id="A-2", amount_minor=10_00)
    other = make_merchant("Other")
    purchase_commit(
        merchant=other.merchant,
        customer_id=make_customer(other.merchant).id,
        amount_minor=999_00,
        order_id="X",
        outlet_id=other.outlet.id,
    )
    assert deliver_due() > 0

    body = as_viewer.get("/api/portal/v1/dashboard").json()
    for window in ("today", "7d", "30d"):
        figures = body["windows"][window]
        assert figures["purchases"] == 3
        assert figures["revenue_minor"] == 160_00
        assert figures["active_customers"] == 2
        assert figures["points_earned"] == 5 + 2 + 1  # 5 % of 100.00, 50.00, 20.00 at 1.00/point
        assert figures["points_redeemed"] == 0
    assert len(body["daily"]) == 30 and body["daily"][-1]["purchases"] == 3
    assert sum(day["purchases"] for day in body["daily"]) == 3

    (health,) = body["delivery"]["endpoints"]
    assert health["id"] == str(endpoint.id) and health["circuit"] == "closed"
    sent = len(receiver.requests)
    assert health["attempts_24h"] == sent and sent >= 2
    assert health["success_rate"] == pytest.approx((sent - 1) / sent)
    assert health["p95_ms"] is not None and health["dead"] == 0
    hourly = body["delivery"]["hourly"]
    assert len(hourly) == 24
    assert sum(h["ok"] for h in hourly) == sent - 1 and sum(h["failed"] for h in hourly) == 1


def test_dashboard_needs_a_token(db):
    from rest_framework.test import APIClient

    response = APIClient().get("/api/portal/v1/dashboard")
    assert response.status_code == 401 and response["Content-Type"] == "application/problem+json"
