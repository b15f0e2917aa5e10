"""Webhooks in the portal: endpoints through the outbox's services (SSRF guard, event catalog),
subscriptions, pause/resume with a reason, secret rotation, the delivery log with attempts from
real deliveries to a receiver on loopback, replay one and all failed in a window; audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from standardwebhooks import Webhook

from loyalty.services import purchase_commit
from outbox.models import Delivery, DeliveryStatus, OutboxPause, WebhookEndpoint
from portal.models import AuditEntry
from tests.factories import make_customer
from tests.portal.conftest import deliver_due, signed_in

pytestmark = pytest.mark.django_db


def create(client, url, **extra):
    return client.post("/api/portal/v1/webhooks/endpoints", {"url": url, **extra}, format="json")


def test_create_subscribe_pause_resume_rotate_with_audit(staff, as_manager, receiver):
    made = create(as_manager, receiver.url, event_types=["purchase.committed"], ordered=False)
    assert made.status_code == 201
    body = made.json()
    assert body["secret"].startswith("whsec_") and body["event_types"] == ["purchase.committed"]
    eid = body["id"]
    listed = as_manager.get("/api/portal/v1/webhooks/endpoints").json()
    assert "secret" not in listed["results"][0] and "points.adjusted" in listed["event_types"]
    changed = as_manager.patch(
        f"/api/portal/v1/webhooks/endpoints/{eid}",
        {"event_types": [], "ordered": True},
        format="json",
    ).json()
    assert changed["event_types"] == [] and changed["ordered"] is True
    assert (
        as_manager.post(
            f"/api/portal/v1/webhooks/endpoints/{eid}/pause",
            {"reason": "receiver maintenance"},
            format="json",
        ).status_code
        == 204
    )
    shown = as_manager.get(f"/api/portal/v1/webhooks/endpoints/{eid}").json()
    assert shown["paused"] and shown["pause_reason"] == "receiver maintenance"
    assert OutboxPause.objects.get(endpoint_id=eid).created_by == f"portal:{staff.manager.email}"
    assert as_manager.post(f"/api/portal/v1/webhooks/endpoints/{eid}/resume").status_code == 204
    assert not as_manager.get(f"/api/portal/v1/webhooks/endpoints/{eid}").json()["paused"]
    secret = as_manager.post(f"/api/portal/v1/webhooks/endpoints/{eid}/rotate-secret").json()
    assert secret["secret"].startswith("whsec_") and secret["secret"] != body["secret"]
    actions = list(
        AuditEntry.objects.filter(object_id=eid).order_by("id").values_list("action", flat=True)
    )
    assert actions == [
        "webhook.create",
        "webhook.update",
        "webhook.pause",
        "webhook.resume",
        "webhook.rotate_secret",
    ]


def test_refusals_ssrf_catalog_roles_and_tenancy(staff, other_staff, as_owner, as_viewer):
    with override_settings(OUTBOX_ALLOW_PRIVATE_TARGETS=False):
        ssrf = create(as_owner, "http://127.0.0.1:8080/hook")
    assert ssrf.status_code == 400
    assert create(as_owner, "https://example.com/h", event_types=["nope"]).status_code == 400
    assert create(as_viewer, "https://example.com/h").status_code == 403
    assert not WebhookEndpoint.objects.exists()
    theirs = create(signed_in(other_staff.owner), "https://example.com/theirs").json()["id"]
    assert as_owner.get(f"/api/portal/v1/webhooks/endpoints/{theirs}").status_code == 404
    assert (
        as_owner.post(
            f"/api/portal/v1/webhooks/endpoints/{theirs}/pause", {"reason": "x"}, format="json"
        ).status_code
        == 404
    )
    assert (
        as_owner.post(f"/api/portal/v1/webhooks/endpoints/{theirs}/rotate-secret").status_code
        == 404
    )
    assert as_owner.get("/api/portal/v1/webhooks/endpoints").json()["results"] == []
    assert (
        as_owner.get("/api/portal/v1/webhooks/deliveries/99999999999999999999").status_code == 404
    )


def test_delivery_log_attempts_and_replay(setup, staff, as_manager, receiver):
    receiver.respond = lambda req, n: (
        (500, {}, b"receiver down", 0) if n == 1 else (200, {}, b"ok", 0)
    )
    made = create(as_manager, receiver.url, event_types=["purchase.committed"]).json()
    customer = make_customer(setup.merchant)
    purchase_commit(
        merchant=setup.merchant,
        customer_id=customer.id,
        amount_minor=10_00,
        order_id="D-1",
        outlet_id=setup.outlet.id,
    )
    assert deliver_due() == 1
    log = as_manager.get(
        "/api/portal/v1/webhooks/deliveries", {"event_type": "purchase.committed"}
    ).json()["results"]
    assert len(log) == 1 and log[0]["status"] == "pending" and log[0]["last_status_code"] == 500
    detail = as_manager.get(f"/api/portal/v1/webhooks/deliveries/{log[0]['id']}").json()
    (attempt,) = detail["attempts"]
    assert attempt["status_code"] == 500 and attempt["response_excerpt"] == "receiver down"
    assert attempt["duration_ms"] >= 0 and detail["payload"]["data"]["order_id"] == "D-1"
    # Make it dead (as after the whole schedule) and replay it from the portal.
    Delivery.objects.filter(id=log[0]["id"]).update(status=DeliveryStatus.DEAD)
    assert (
        as_manager.get("/api/portal/v1/webhooks/deliveries", {"status": "dead"}).json()["results"][
            0
        ]["id"]
        == log[0]["id"]
    )
    now = timezone.now()
    window = {
        "since": (now - timedelta(hours=1)).isoformat(),
        "until": (now + timedelta(minutes=1)).isoformat(),
        "endpoint_id": made["id"],
    }
    replayed = as_manager.post(
        "/api/portal/v1/webhooks/deliveries/replay-failed", window, format="json"
    )
    assert replayed.json() == {"replayed": 1}
    assert deliver_due() == 1
    hit = receiver.requests[-1]
    assert Webhook(made["secret"]).verify(hit.body, hit.headers)["data"]["order_id"] == "D-1"
    assert hit.headers["webhook-id"] == receiver.requests[0].headers["webhook-id"]
    one = as_manager.post(f"/api/portal/v1/webhooks/deliveries/{log[0]['id']}/replay").json()
    assert one == {"replayed": 1}  # a delivered one may be sent again too
    assert AuditEntry.objects.filter(action="webhook.replay").count() == 2
    bad = as_manager.post(
        "/api/portal/v1/webhooks/deliveries/replay-failed",
        {"since": window["until"], "until": window["since"]},
        format="json",
    )
    assert bad.status_code == 400
