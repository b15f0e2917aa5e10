"""Replay by business object: every webhook delivery about one customer or one order is queued
again (same webhook-ids), with progress counts from the status endpoint and the page; other
customers', orders' and merchants' deliveries are untouched; audited; bad input is a 400."""

from __future__ import annotations

import pytest
from django.db import connection

from loyalty.services import purchase_commit, refund_create
from outbox.models import Delivery, DeliveryStatus, EventType, OutboxEvent
from portal.models import AuditEntry
from tests.factories import make_customer
from tests.portal.conftest import deliver_due, signed_in
from tests.portal.test_pages import page_login

pytestmark = pytest.mark.django_db

ABOUT = "/api/portal/v1/webhooks/deliveries/replay-about"


@pytest.fixture
def history(setup, staff, as_manager, receiver):
    """Two customers' purchases (one refunded) delivered to the receiver."""
    as_manager.post("/api/portal/v1/webhooks/endpoints", {"url": receiver.url}, format="json")
    alice, bob = make_customer(setup.merchant), make_customer(setup.merchant)
    bought = {}
    for customer, order in ((alice, "A-1"), (alice, "A-2"), (bob, "B-1")):
        bought[order] = purchase_commit(
            merchant=setup.merchant,
            customer_id=customer.id,
            amount_minor=20_00,
            order_id=order,
            outlet_id=setup.outlet.id,
        )
    while deliver_due():
        pass
    refund_create(merchant=setup.merchant, purchase_id=bought["A-1"].id, amount_minor=5_00)
    while deliver_due():
        pass
    assert not Delivery.objects.exclude(status=DeliveryStatus.DELIVERED).exists()
    return alice, bob


def test_replay_one_order_then_watch_it_finish(history, as_manager, receiver):
    before = len(receiver.requests)
    answer = as_manager.post(ABOUT, {"order_id": "A-1"}, format="json")
    assert answer.json() == {"matched": 2, "replayed": 2}  # the purchase and its refund
    pending = as_manager.get(ABOUT, {"order_id": "A-1"}).json()
    assert (pending["total"], pending["pending"], pending["delivered"]) == (2, 2, 0)
    while deliver_due():  # ordered: the refund goes after its purchase
        pass
    again = [r.json() for r in receiver.requests[before:]]
    assert sorted(r["type"] for r in again) == ["purchase.committed", "purchase.refunded"]
    assert {r["data"]["order_id"] for r in again} == {"A-1"}
    done = as_manager.get(ABOUT, {"order_id": "A-1"}).json()
    assert (done["pending"], done["delivered"]) == (0, 2)
    (audit,) = AuditEntry.objects.filter(action="webhook.replay_about")
    assert (audit.object_type, audit.object_id, audit.detail["replayed"]) == ("order", "A-1", 2)


def test_replay_one_customer_only(history, as_manager):
    alice, bob = history
    answer = as_manager.post(ABOUT, {"customer_id": str(alice.id)}, format="json").json()
    # customer.created, two purchases, one refund: Alice's only.
    assert answer == {"matched": 4, "replayed": 4}
    assert set(
        Delivery.objects.filter(status=DeliveryStatus.PENDING).values_list(
            "event__customer_id", flat=True
        )
    ) == {alice.id}
    # Pending ones are already on their way: a second replay queues nothing new.
    assert as_manager.post(ABOUT, {"customer_id": str(alice.id)}, format="json").json() == {
        "matched": 4,
        "replayed": 0,
    }


def test_bad_input_roles_and_tenancy(history, staff, other_staff, as_manager, as_viewer):
    alice, _ = history
    for body in ({}, {"customer_id": "nope"}, {"customer_id": str(alice.id), "order_id": "A-1"}):
        refused = as_manager.post(ABOUT, body, format="json")
        assert refused.status_code == 400, body
        assert refused["content-type"] == "application/problem+json"
    assert as_manager.get(ABOUT).status_code == 400
    assert as_viewer.post(ABOUT, {"order_id": "A-1"}, format="json").status_code == 403
    theirs = signed_in(other_staff.owner)
    assert theirs.post(ABOUT, {"order_id": "A-1"}, format="json").json() == {
        "matched": 0,
        "replayed": 0,
    }
    assert theirs.get(ABOUT, {"customer_id": str(alice.id)}).json()["total"] == 0
    assert not Delivery.objects.exclude(status=DeliveryStatus.DELIVERED).exists()


def test_the_page_form_replays_and_shows_progress(history, staff, client):
    assert page_login(client, staff.manager.email).status_code == 302
    sent = client.post("/portal/webhooks/deliveries", {"op": "replay_about", "order_id": "B-1"})
    assert sent.status_code == 302 and "about_order=B-1" in sent["location"]
    page = client.get(sent["location"]).content.decode()
    assert 'data-pending="1"' in page and "replay_progress.js" in page
    deliver_due()
    page = client.get(sent["location"]).content.decode()
    assert 'data-pending="0"' in page and "replay_progress.js" not in page
    bad = client.post("/portal/webhooks/deliveries", {"op": "replay_about", "customer_id": "x"})
    assert bad.status_code == 400


def test_the_order_lookup_uses_its_expression_index(history, staff):
    """The planner picks the order index on a merchant with a real history: with a handful of rows
    (and whatever statistics earlier tests left behind) it may as well pick any index on the
    merchant, so the test gives the merchant 2,000 other orders and fresh statistics first."""
    from outbox.selectors import webhook_deliveries_about

    OutboxEvent.objects.bulk_create(
        OutboxEvent(
            merchant=staff.merchant,
            event_type=EventType.PURCHASE_COMMITTED,
            payload={"data": {"order_id": f"X-{n}"}},
        )
        for n in range(2_000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE outbox_outboxevent")  # allowed inside the test's transaction
        plan = webhook_deliveries_about(merchant_id=staff.merchant.id, order_id="A-1").explain()
    assert "event_merchant_order_idx" in plan, plan
