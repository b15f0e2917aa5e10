"""Secret rotation with an overlap, from the portal API to the receiver: during the overlap each
message carries both signatures (newest first) and each verifies with Standard Webhooks'
``Webhook(secret).verify``; after it, or with ``overlap_hours=0``, only the new one is sent.
Real deliveries to the loopback receiver through the engine."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from loyalty.services import purchase_commit
from outbox.crypto import secret_decrypt
from outbox.models import WebhookEndpoint
from portal.models import AuditEntry
from tests.factories import make_customer
from tests.portal.conftest import deliver_due, signed_in
from tests.portal.test_pages import page_login

pytestmark = pytest.mark.django_db

ENDPOINTS = "/api/portal/v1/webhooks/endpoints"


def endpoint_made(client, url: str) -> dict:
    made = client.post(
        ENDPOINTS, {"url": url, "event_types": ["purchase.committed"]}, format="json"
    )
    assert made.status_code == 201
    return made.json()


def rotate(client, eid: str, **body):
    return client.post(f"{ENDPOINTS}/{eid}/rotate-secret", body, format="json")


def delivered(setup, receiver, order_id: str):
    """Commit a purchase, deliver it to the receiver, and return the request it got."""
    purchase_commit(
        merchant=setup.merchant,
        customer_id=make_customer(setup.merchant).id,
        amount_minor=10_00,
        order_id=order_id,
        outlet_id=setup.outlet.id,
    )
    before = len(receiver.requests)
    assert deliver_due() == 1
    (hit,) = receiver.requests[before:]
    assert hit.json()["data"]["order_id"] == order_id
    return hit


def verifies(secret: str, hit) -> bool:
    try:
        Webhook(secret).verify(hit.body, hit.headers)
    except WebhookVerificationError:
        return False
    return True


def test_overlap_sends_both_signatures_then_only_the_new(setup, staff, as_manager, receiver):
    made = endpoint_made(as_manager, receiver.url)
    old = made["secret"]
    rotated = rotate(as_manager, made["id"])  # the default overlap: 24 h
    assert rotated.status_code == 200
    new, until = rotated.json()["secret"], rotated.json()["previous_valid_until"]
    assert new != old and until is not None

    during = delivered(setup, receiver, "R-1")
    entries = during.headers["webhook-signature"].split(" ")
    assert len(entries) == 2 and all(e.startswith("v1,") for e in entries)
    assert verifies(old, during) and verifies(new, during)
    # Newest first: the first entry alone is the new secret's signature.
    first_only = {**during.headers, "webhook-signature": entries[0]}
    assert Webhook(new).verify(during.body, first_only)

    row = WebhookEndpoint.objects.get(id=made["id"])
    assert old not in row.previous_secret_encrypted  # stored encrypted, like the current one
    assert secret_decrypt(row.previous_secret_encrypted) == old
    hours = (row.previous_secret_expires_at - timezone.now()) / timedelta(hours=1)
    assert 23 < hours <= 24
    # The overlap has run out (its end moved into the past rather than waiting a day).
    WebhookEndpoint.objects.filter(id=made["id"]).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    after = delivered(setup, receiver, "R-2")
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert verifies(new, after) and not verifies(old, after)


def test_zero_overlap_stops_the_old_secret_at_once(setup, staff, as_manager, receiver):
    made = endpoint_made(as_manager, receiver.url)
    first = rotate(as_manager, made["id"], overlap_hours=72).json()["secret"]
    answer = rotate(as_manager, made["id"], overlap_hours=0).json()
    assert answer["previous_valid_until"] is None
    hit = delivered(setup, receiver, "Z-1")
    assert len(hit.headers["webhook-signature"].split(" ")) == 1
    assert verifies(answer["secret"], hit)
    assert not verifies(first, hit) and not verifies(made["secret"], hit)
    row = WebhookEndpoint.objects.get(id=made["id"])
    assert row.previous_secret_encrypted == "" and row.previous_secret_expires_at is None
    details = list(
        AuditEntry.objects.filter(action="webhook.rotate_secret", object_id=made["id"])
        .order_by("id")
        .values_list("detail", flat=True)
    )
    assert [d["overlap_hours"] for d in details] == [72, 0]
    assert details[0]["previous_valid_until"] and details[1]["previous_valid_until"] is None
    assert all(made["secret"] not in str(d) and first not in str(d) for d in details)


def test_a_rotation_inside_an_overlap_keeps_only_the_secret_it_replaced(
    setup, staff, as_manager, receiver
):
    made = endpoint_made(as_manager, receiver.url)
    second = rotate(as_manager, made["id"], overlap_hours=1).json()["secret"]
    third = rotate(as_manager, made["id"], overlap_hours=168).json()["secret"]
    hit = delivered(setup, receiver, "T-1")
    assert len(hit.headers["webhook-signature"].split(" ")) == 2
    assert verifies(third, hit) and verifies(second, hit) and not verifies(made["secret"], hit)


def test_bad_overlaps_roles_and_tenancy_change_nothing(
    staff, other_staff, as_owner, as_viewer, receiver
):
    made = endpoint_made(as_owner, receiver.url)
    before = WebhookEndpoint.objects.values().get(id=made["id"])
    for bad in (-1, 169, "a day", 1.5, None):
        answer = rotate(as_owner, made["id"], overlap_hours=bad)
        assert answer.status_code == 400, bad
        assert answer["content-type"] == "application/problem+json"
    assert rotate(as_owner, made["id"], surprise=1).status_code == 400
    assert rotate(as_viewer, made["id"], overlap_hours=1).status_code == 403
    theirs = signed_in(other_staff.owner)
    assert rotate(theirs, made["id"], overlap_hours=1).status_code == 404
    assert WebhookEndpoint.objects.values().get(id=made["id"]) == before
    assert not AuditEntry.objects.filter(action="webhook.rotate_secret").exists()


def test_portal_page_rotates_with_the_chosen_overlap(staff, client, as_owner, receiver):
    made = endpoint_made(as_owner, receiver.url)
    assert page_login(client, staff.owner.email).status_code == 302
    page = client.post(
        "/portal/webhooks", {"op": "rotate", "endpoint_id": made["id"], "overlap_hours": "48"}
    )
    assert page.status_code == 200 and 'id="previous-until"' in page.content.decode()
    row = WebhookEndpoint.objects.get(id=made["id"])
    hours = (row.previous_secret_expires_at - timezone.now()) / timedelta(hours=1)
    assert 47 < hours <= 48
    refused = client.post(
        "/portal/webhooks", {"op": "rotate", "endpoint_id": made["id"], "overlap_hours": "999"}
    )
    assert refused.status_code == 400
    assert WebhookEndpoint.objects.get(id=made["id"]).secret_encrypted == row.secret_encrypted
