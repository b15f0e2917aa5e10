""" "Send a test event": a ``webhook.test`` event recorded for one endpoint only (whatever its
subscriptions), delivered by the normal engine to the loopback receiver, signed, and shown in
the delivery log with its attempt; audited; other merchants' endpoints are 404."""

from __future__ import annotations

import pytest
from standardwebhooks import Webhook

from outbox.models import Delivery, OutboxEvent, WebhookEndpoint
from portal.models import AuditEntry
from tests.portal.conftest import deliver_due, signed_in
from tests.portal.test_pages import page_login

pytestmark = pytest.mark.django_db

ENDPOINTS = "/api/portal/v1/webhooks/endpoints"


def endpoint_made(client, url: str, **extra) -> dict:
    made = client.post(ENDPOINTS, {"url": url, **extra}, format="json")
    assert made.status_code == 201
    return made.json()


def test_a_test_event_reaches_that_endpoint_only_and_shows_in_the_log(
    setup, staff, as_manager, receiver
):
    # Subscribed to something else: the test event is not filtered by subscriptions.
    made = endpoint_made(as_manager, receiver.url, event_types=["points.expired"])
    other = endpoint_made(as_manager, receiver.url + "?other")
    answer = as_manager.post(f"{ENDPOINTS}/{made['id']}/test")
    assert answer.status_code == 202
    delivery_id = answer.json()["delivery_id"]
    assert list(Delivery.objects.values_list("endpoint_id", flat=True)) == [
        WebhookEndpoint.objects.get(id=made["id"]).id
    ]
    assert deliver_due() == 1
    (hit,) = receiver.wait_for(1)
    event = Webhook(made["secret"]).verify(hit.body, hit.headers)
    assert event["type"] == "webhook.test" and event["data"]["endpoint_id"] == made["id"]
    assert "sequence" not in event and hit.headers["webhook-id"] == answer.json()["message_id"]
    log = as_manager.get(
        "/api/portal/v1/webhooks/deliveries", {"event_type": "webhook.test"}
    ).json()["results"]
    assert [(r["id"], r["event_type"], r["status"]) for r in log] == [
        (delivery_id, "webhook.test", "delivered")
    ]
    (attempt,) = as_manager.get(f"/api/portal/v1/webhooks/deliveries/{delivery_id}").json()[
        "attempts"
    ]
    assert attempt["status_code"] == 200 and attempt["request_headers"]["webhook-signature"]
    (audit,) = AuditEntry.objects.filter(action="webhook.test")
    assert audit.object_id == made["id"] and audit.detail["delivery_id"] == delivery_id
    assert audit.user_id == staff.manager.id
    assert other["id"] not in str(list(Delivery.objects.values("endpoint_id")))


def test_test_event_refusals_change_nothing(setup, staff, other_staff, as_owner, as_viewer):
    made = endpoint_made(as_owner, "https://example.com/hook")
    assert as_viewer.post(f"{ENDPOINTS}/{made['id']}/test").status_code == 403
    theirs = signed_in(other_staff.owner)
    assert theirs.post(f"{ENDPOINTS}/{made['id']}/test").status_code == 404
    WebhookEndpoint.objects.filter(id=made["id"]).update(
        is_enabled=False, disabled_reason="receiver answered 410 Gone"
    )
    refused = as_owner.post(f"{ENDPOINTS}/{made['id']}/test")
    assert refused.status_code == 400 and "410" in refused.content.decode()
    assert not OutboxEvent.objects.exists() and not Delivery.objects.exists()
    assert not AuditEntry.objects.filter(action="webhook.test").exists()


def test_the_page_button_sends_one_and_opens_its_log_entry(setup, staff, client, receiver):
    made = endpoint_made(signed_in(staff.owner), receiver.url)
    assert page_login(client, staff.owner.email).status_code == 302
    sent = client.post("/portal/webhooks", {"op": "test", "endpoint_id": made["id"]})
    delivery = Delivery.objects.get()
    assert sent.status_code == 302 and sent["location"].endswith(f"/deliveries/{delivery.id}")
    assert deliver_due() == 1
    page = client.get(sent["location"]).content.decode()
    assert "webhook.test" in page and 'class="request-headers"' in page
