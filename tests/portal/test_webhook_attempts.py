"""Each attempt's request in the delivery log: the headers sent (as the receiver got them,
signatures included, never the secret) and the exact body, next to the answer's status,
excerpt and duration; through the API and the page, for this merchant only."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.utils import timezone

from loyalty.services import purchase_commit
from outbox.models import Attempt, Delivery
from tests.factories import make_customer
from tests.portal.conftest import deliver_due, signed_in
from tests.portal.test_pages import page_login

pytestmark = pytest.mark.django_db

SIGNED = ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "user-agent")


def commit_one(setup, order_id: str) -> None:
    purchase_commit(
        merchant=setup.merchant,
        customer_id=make_customer(setup.merchant).id,
        amount_minor=12_34,
        order_id=order_id,
        outlet_id=setup.outlet.id,
    )


def only_delivery(client) -> dict:
    (row,) = client.get("/api/portal/v1/webhooks/deliveries").json()["results"]
    return client.get(f"/api/portal/v1/webhooks/deliveries/{row['id']}").json()


def test_each_attempt_shows_the_request_as_received(setup, staff, as_manager, receiver, client):
    receiver.respond = lambda req, n: (
        (503, {}, b"busy, later", 0) if n == 1 else (200, {}, b"thanks", 0)
    )
    made = as_manager.post(
        "/api/portal/v1/webhooks/endpoints",
        {"url": receiver.url, "event_types": ["purchase.committed"]},
        format="json",
    ).json()
    commit_one(setup, "H-1")
    assert deliver_due() == 1
    detail = only_delivery(as_manager)
    # The retry comes due now rather than after the schedule's first step.
    Delivery.objects.filter(id=detail["id"]).update(next_attempt_at=timezone.now())
    assert deliver_due() == 1
    detail = only_delivery(as_manager)
    first, second = detail["attempts"]
    assert (first["status_code"], first["response_excerpt"]) == (503, "busy, later")
    assert (second["status_code"], second["response_excerpt"]) == (200, "thanks")
    for attempt, got in zip((first, second), receiver.wait_for(2), strict=True):
        headers = attempt["request_headers"]
        assert set(SIGNED) <= set(headers)
        for name in SIGNED:
            assert headers[name] == got.headers[name], name
        assert attempt["request_body"].encode() == got.body
        assert attempt["duration_ms"] >= 0
        assert made["secret"] not in str(headers)
    assert first["request_headers"]["webhook-id"] == second["request_headers"]["webhook-id"]

    assert page_login(client, staff.viewer.email).status_code == 302
    page = client.get(f"/portal/webhooks/deliveries/{detail['id']}").content.decode()
    assert page.count('class="request-headers"') == 2
    assert first["request_headers"]["webhook-signature"] in page
    assert "busy, later" in page and "&quot;order_id&quot;:&quot;H-1&quot;" in page


def test_a_refused_target_records_no_request_headers(setup, staff, as_manager, other_staff):
    made = as_manager.post(
        "/api/portal/v1/webhooks/endpoints",
        {"url": "http://127.0.0.1:9/hook", "event_types": ["purchase.committed"]},
        format="json",
    )
    assert made.status_code == 201  # private targets are allowed in this test run ...
    commit_one(setup, "H-2")
    with override_settings(OUTBOX_ALLOW_PRIVATE_TARGETS=False):  # ... but not at send time
        assert deliver_due() == 1
    (attempt,) = only_delivery(as_manager)["attempts"]
    assert attempt["error"] == "UnsafeTarget" and attempt["request_headers"] == {}
    assert Attempt.objects.get().request_headers == {}
    theirs = signed_in(other_staff.owner)
    delivery_id = Attempt.objects.get().delivery_id
    assert theirs.get(f"/api/portal/v1/webhooks/deliveries/{delivery_id}").status_code == 404
