"""The admin as platform staff use it: outbox actions with confirmation, pauses, endpoints,
API keys, site modes; and nothing at all for anyone who is not staff."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from integrations.models import ApiKey
from integrations.services import api_key_authenticate, api_key_issue
from loyalty.models import Merchant, Outlet
from outbox.crypto import secret_decrypt
from outbox.models import (
    Attempt,
    Delivery,
    DeliveryStatus,
    OutboxEvent,
    OutboxPause,
    WebhookEndpoint,
)
from outbox.services import outbox_pause, webhook_endpoint_create
from platform_ops.models import Alert
from tests.factories import make_customer, make_merchant

DELIVERIES = "/admin/outbox/delivery/"
EVENTS = "/admin/outbox/outboxevent/"
PAUSES = "/admin/outbox/outboxpause/"
ENDPOINTS = "/admin/outbox/webhookendpoint/"
KEYS = "/admin/integrations/apikey/"


@pytest.fixture
def shop(db):
    setup = make_merchant("Shop")
    endpoint, _ = webhook_endpoint_create(merchant=setup.merchant, url="http://127.0.0.1:9/hook")
    customers = [make_customer(setup.merchant) for _ in range(3)]  # customer.created each
    return setup.merchant, endpoint, customers


def deliveries() -> list[Delivery]:
    return list(Delivery.objects.order_by("id"))


def act(client, url: str, action: str, ids: list, *, confirm: bool):
    """Run a bulk action as the changelist does; ``confirm`` answers the confirmation page."""
    data = {"action": action, "_selected_action": [str(i) for i in ids], "select_across": "0"}
    if confirm:
        data["confirmed"] = "yes"
    else:
        data["index"] = "0"
    return client.post(url, data)


def test_delivery_changelist_filters_search_and_status_panel(admin_client, shop):
    merchant, endpoint, _ = shop
    first = deliveries()[0]
    Delivery.objects.filter(id=first.id).update(status=DeliveryStatus.DEAD)
    outbox_pause(reason="merchant asked", actor="cli:ops", merchant_id=str(merchant.id))
    page = admin_client.get(DELIVERIES)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Dead: <strong>1</strong>" in text and "Pending: <strong>2</strong>" in text
    assert "DELIVERY PAUSED" in text and "merchant asked" in text
    for query in (
        "status__exact=dead",
        "channel__exact=webhook",
        f"merchant__id__exact={merchant.id}",
        f"endpoint__id__exact={endpoint.id}",
        "event__event_type=customer.created",
        "created_at__gte=2000-01-01T00:00:00%2B00:00",
    ):
        assert admin_client.get(f"{DELIVERIES}?{query}").status_code == 200, query
    dead_only = admin_client.get(f"{DELIVERIES}?status__exact=dead")
    assert dead_only.context["cl"].result_count == 1
    by_id = admin_client.get(f"{DELIVERIES}?q={first.id}")
    assert [d.id for d in by_id.context["cl"].result_list] == [first.id]
    by_message = admin_client.get(f"{DELIVERIES}?q={first.event.message_id}")
    assert [d.id for d in by_message.context["cl"].result_list] == [first.id]
    events = admin_client.get(f"{EVENTS}?q={first.event.message_id}")
    assert [e.id for e in events.context["cl"].result_list] == [first.event_id]


def test_attempt_history_inline(admin_client, shop):
    delivery = deliveries()[0]
    for code in (500, 502):
        Attempt.objects.create(
            delivery=delivery,
            started_at=timezone.now(),
            duration_ms=12,
            status_code=code,
            response_excerpt=f"upstream {code}",
        )
    page = admin_client.get(f"{DELIVERIES}{delivery.id}/change/")
    assert page.status_code == 200
    assert b"upstream 500" in page.content and b"upstream 502" in page.content
    event_page = admin_client.get(f"{EVENTS}{delivery.event_id}/change/")
    assert (
        event_page.status_code == 200 and delivery.event.message_id.encode() in event_page.content
    )


def test_retry_now_confirms_with_counts_then_acts(admin_client, shop):
    later = timezone.now() + timedelta(hours=1)
    Delivery.objects.update(next_attempt_at=later)
    first, second, third = deliveries()
    Delivery.objects.filter(id=third.id).update(status=DeliveryStatus.DEAD)
    ids = [first.id, second.id, third.id]

    page = act(admin_client, DELIVERIES, "retry_now", ids, confirm=False)
    assert page.status_code == 200
    text = page.content.decode()
    assert "deliveries selected: <strong>3</strong>" in text
    assert "pending: will retry now: <strong>2</strong>" in text
    assert Delivery.objects.filter(next_attempt_at=later).count() == 3  # nothing changed yet

    done = act(admin_client, DELIVERIES, "retry_now", ids, confirm=True)
    assert done.status_code == 302
    assert Delivery.objects.filter(next_attempt_at__lte=timezone.now()).count() == 2


def test_replay_dead_only_touches_dead(admin_client, shop):
    first, second, third = deliveries()
    Delivery.objects.filter(id__in=[first.id, second.id]).update(
        status=DeliveryStatus.DEAD, attempts=8, last_error="HTTP 500"
    )
    Delivery.objects.filter(id=third.id).update(status=DeliveryStatus.DELIVERED)
    ids = [first.id, second.id, third.id]
    page = act(admin_client, DELIVERIES, "replay_dead", ids, confirm=False)
    assert "dead: will replay: <strong>2</strong>" in page.content.decode()
    act(admin_client, DELIVERIES, "replay_dead", ids, confirm=True)
    statuses = {d.id: (d.status, d.attempts) for d in deliveries()}
    assert statuses[first.id] == (DeliveryStatus.PENDING, 0)
    assert statuses[second.id] == (DeliveryStatus.PENDING, 0)
    assert statuses[third.id][0] == DeliveryStatus.DELIVERED


def test_cancel_through_the_events_changelist(admin_client, shop):
    event_ids = list(OutboxEvent.objects.values_list("id", flat=True))
    page = act(admin_client, EVENTS, "cancel", event_ids, confirm=False)
    assert "pending: will cancel: <strong>3</strong>" in page.content.decode()
    act(admin_client, EVENTS, "cancel", event_ids, confirm=True)
    assert {d.status for d in deliveries()} == {DeliveryStatus.CANCELLED}


def test_pause_with_reason_then_resume(admin_client, admin_user, shop):
    merchant, _, _ = shop
    refused = admin_client.post(f"{PAUSES}add/", {"scope": "merchant", "merchant": merchant.id})
    assert refused.status_code == 200 and not OutboxPause.objects.exists()  # reason required
    mismatch = admin_client.post(
        f"{PAUSES}add/", {"scope": "global", "merchant": merchant.id, "reason": "x"}
    )
    assert b"Leave empty for this scope." in mismatch.content
    missing = admin_client.post(f"{PAUSES}add/", {"scope": "channel", "reason": "x"})
    assert b"Choose what to pause for this scope." in missing.content

    created = admin_client.post(
        f"{PAUSES}add/",
        {"scope": "merchant", "merchant": merchant.id, "reason": "merchant's receiver is down"},
    )
    assert created.status_code == 302
    pause = OutboxPause.objects.get()
    assert pause.merchant_id == merchant.id and pause.resumed_at is None
    assert pause.created_by == f"admin:{admin_user.username}"
    assert pause.reason == "merchant's receiver is down"
    assert b"DELIVERY PAUSED" in admin_client.get(DELIVERIES).content

    channel = admin_client.post(
        f"{PAUSES}add/", {"scope": "channel", "channel": "telegram", "reason": "bot API outage"}
    )
    assert channel.status_code == 302
    assert OutboxPause.objects.filter(resumed_at=None).count() == 2

    page = act(admin_client, PAUSES, "resume", [pause.id], confirm=False)
    assert "in force: will end: <strong>1</strong>" in page.content.decode()
    act(admin_client, PAUSES, "resume", [pause.id], confirm=True)
    pause.refresh_from_db()
    assert pause.resumed_at is not None and pause.resumed_by == f"admin:{admin_user.username}"
    assert OutboxPause.objects.filter(resumed_at=None).count() == 1  # the channel pause stays
    assert admin_client.get(f"{PAUSES}{pause.id}/delete/").status_code == 403


def test_webhook_endpoint_created_through_the_service_secret_shown_once(
    admin_client, shop, settings
):
    merchant, _, _ = shop
    page = admin_client.post(
        f"{ENDPOINTS}add/",
        {
            "merchant": merchant.id,
            "url": "http://127.0.0.1:8/new",
            "event_types": ["purchase.committed"],
            "ordered": "on",
        },
    )
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    endpoint = WebhookEndpoint.objects.get(url="http://127.0.0.1:8/new")
    secret = secret_decrypt(endpoint.secret_encrypted)
    assert secret.startswith("whsec_") and secret in page.content.decode()
    assert endpoint.event_types == ["purchase.committed"]
    assert secret.encode() not in admin_client.get(f"{ENDPOINTS}{endpoint.id}/change/").content

    settings.OUTBOX_ALLOW_PRIVATE_TARGETS = False
    refused = admin_client.post(
        f"{ENDPOINTS}add/", {"merchant": merchant.id, "url": "http://127.0.0.1:8/evil"}
    )
    assert refused.status_code == 200 and b"errorlist" in refused.content
    assert not WebhookEndpoint.objects.filter(url="http://127.0.0.1:8/evil").exists()


def test_webhook_endpoint_rotate(admin_client, shop):
    _, endpoint, _ = shop
    old = secret_decrypt(endpoint.secret_encrypted)
    page = act(admin_client, ENDPOINTS, "rotate_secret", [endpoint.id], confirm=False)
    assert "endpoints: <strong>1</strong>" in page.content.decode()
    shown = act(admin_client, ENDPOINTS, "rotate_secret", [endpoint.id], confirm=True)
    endpoint.refresh_from_db()
    new = secret_decrypt(endpoint.secret_encrypted)
    assert new != old and new in shown.content.decode()


def test_api_key_issue_revoke_rotate(admin_client, shop):
    merchant, _, _ = shop
    page = admin_client.post(
        f"{KEYS}add/", {"merchant": merchant.id, "name": "till 2", "scopes": ["read", "write"]}
    )
    assert page.status_code == 200
    key = ApiKey.objects.get(name="till 2")
    plaintext = re.search(rf"lk_{key.prefix}_[A-Za-z0-9_-]+", page.content.decode()).group(0)
    assert api_key_authenticate(plaintext) == key
    assert plaintext.split("_", 2)[2] not in key.secret_hash  # only the hash is stored

    rotated_page = act(admin_client, KEYS, "rotate", [key.id], confirm=True)
    key.refresh_from_db()
    assert key.expires_at is not None  # the old one keeps working for the overlap window
    successor = ApiKey.objects.exclude(id=key.id).get(name="till 2")
    assert f"lk_{successor.prefix}_" in rotated_page.content.decode()

    page = act(admin_client, KEYS, "revoke", [key.id], confirm=False)
    assert "live: will revoke: <strong>1</strong>" in page.content.decode()
    act(admin_client, KEYS, "revoke", [key.id], confirm=True)
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api_key_authenticate(plaintext) is None


def test_merchant_created_with_its_setup_ledger_read_only(admin_client, db):
    response = admin_client.post("/admin/loyalty/merchant/add/", {"name": "Bakery"})
    assert response.status_code == 302
    merchant = Merchant.objects.get(name="Bakery")
    assert Outlet.objects.filter(merchant=merchant).exists()  # merchant_create ran
    assert admin_client.get("/admin/loyalty/ledgerentry/").status_code == 200
    assert admin_client.get("/admin/loyalty/ledgerentry/add/").status_code == 403
    assert admin_client.get("/admin/loyalty/customer/add/").status_code == 403
    for url in (
        "/admin/loyalty/outlet/",
        "/admin/loyalty/device/",
        "/admin/loyalty/manager/",
        "/admin/loyalty/customer/",
        "/admin/loyalty/purchase/",
        "/admin/platform_ops/alert/",
        "/admin/platform_ops/sitemodechange/",
    ):
        assert admin_client.get(url).status_code == 200, url


def test_alerts_are_listed_read_only(admin_client, db):
    Alert.objects.create(
        fingerprint="f" * 32,
        kind="http_5xx",
        message="[CRITICAL] 12 HTTP 5xx",
        value=12,
        threshold=10,
        delivered=True,
    )
    page = admin_client.get("/admin/platform_ops/alert/")
    assert b"[CRITICAL] 12 HTTP 5xx" in page.content
    assert admin_client.get("/admin/platform_ops/alert/add/").status_code == 403


ADMIN_URLS = (
    "/admin/",
    DELIVERIES,
    EVENTS,
    PAUSES,
    f"{PAUSES}add/",
    ENDPOINTS,
    KEYS,
    "/admin/platform_ops/sitemodechange/add/",
    "/admin/loyalty/customer/",
)


def test_non_staff_get_nothing(client, shop):
    merchant, endpoint, _ = shop
    User.objects.create_user("mallory", password="pw-123456789")  # active, not staff
    client.login(username="mallory", password="pw-123456789")
    for url in ADMIN_URLS:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url
    ids = [d.id for d in deliveries()]
    for action in ("retry_now", "replay_dead", "cancel"):
        act(client, DELIVERIES, action, ids, confirm=True)
    client.post(f"{PAUSES}add/", {"scope": "global", "reason": "nope"})
    issued = api_key_issue(merchant=merchant)
    act(client, KEYS, "revoke", [issued.api_key.id], confirm=True)
    act(client, ENDPOINTS, "rotate_secret", [endpoint.id], confirm=True)
    assert {d.status for d in deliveries()} == {DeliveryStatus.PENDING}
    assert not OutboxPause.objects.exists()
    assert ApiKey.objects.get(id=issued.api_key.id).revoked_at is None


def test_staff_without_permissions_are_refused(client, shop):
    staff = User.objects.create_user("intern", password="pw-123456789", is_staff=True)
    client.login(username="intern", password="pw-123456789")
    assert client.get(DELIVERIES).status_code == 403
    ids = [d.id for d in deliveries()]
    assert act(client, DELIVERIES, "cancel", ids, confirm=True).status_code == 403
    # View-only staff see the outbox but get no actions.
    staff.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    page = client.get(DELIVERIES)
    assert page.status_code == 200 and b"retry_now" not in page.content
    act(client, DELIVERIES, "cancel", ids, confirm=True)
    assert {d.status for d in deliveries()} == {DeliveryStatus.PENDING}
