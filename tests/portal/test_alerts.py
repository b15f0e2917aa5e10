"""Merchant alerts from the portal: a one-time code links the merchant's Telegram chat through
the bot's real handler; per endpoint "failing for N minutes" / "dead deliveries"; the periodic
check records one Telegram message per condition in the outbox and stays quiet until the
condition clears. Roles, another merchant's endpoint is 404, audit rows. Real deliveries to a
receiver on loopback make the endpoint fail; the end-to-end send through the fake Bot API is
in test_alerts_telegram.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from loyalty.models import Merchant
from loyalty.services import purchase_commit
from notifications.bot import update_handle
from outbox.chat_messages import ENDPOINT_ALERT
from outbox.models import Channel, Delivery, DeliveryStatus, WebhookEndpoint
from portal.models import AuditEntry, EndpointAlert
from portal.services.alerts import endpoint_alerts_check
from tests.factories import make_customer
from tests.notifications.updates import message_update
from tests.portal.conftest import deliver_due
from tests.portal.test_pages import page_login

pytestmark = pytest.mark.django_db

CHAT = 424242


def _say(chat_id: int, text: str) -> str:
    replies = update_handle(message_update(chat_id, text))
    assert len(replies) == 1 and replies[0].chat_id == chat_id
    return replies[0].text


def _code(client) -> str:
    made = client.post("/api/portal/v1/telegram/link-code")
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["command"] == f"/merchant {body['code']}"
    return str(body["code"])


def _alert_messages():
    return Delivery.objects.filter(channel=Channel.TELEGRAM, event__event_type=ENDPOINT_ALERT)


def _endpoint(client, url: str) -> str:
    made = client.post(
        "/api/portal/v1/webhooks/endpoints",
        {"url": url, "event_types": ["purchase.committed"], "ordered": False},
        format="json",
    )
    assert made.status_code == 201, made.content
    return str(made.json()["id"])


def _buy(setup, order_id: str) -> None:
    purchase_commit(
        merchant=setup.merchant,
        customer_id=make_customer(setup.merchant).id,
        amount_minor=10_00,
        order_id=order_id,
        outlet_id=setup.outlet.id,
    )


def test_a_code_links_the_chat_once_and_only_for_writers(staff, as_manager, as_viewer):
    assert as_viewer.post("/api/portal/v1/telegram/link-code").status_code == 403
    assert as_manager.get("/api/portal/v1/telegram").json() == {"linked": False}
    code = _code(as_manager)
    assert "unknown, used or expired" in _say(CHAT, "/merchant WRONG123")
    assert _say(CHAT, f"/merchant {code.lower()}").startswith("Done: this chat now gets Cafe")
    assert Merchant.objects.get(id=staff.merchant.id).telegram_chat_id == CHAT
    assert as_viewer.get("/api/portal/v1/telegram").json() == {"linked": True}
    assert "unknown, used or expired" in _say(CHAT + 1, f"/merchant {code}")  # single use
    assert Merchant.objects.get(id=staff.merchant.id).telegram_chat_id == CHAT

    # The deep link's /start m-<code> works the same; a newer code replaces an unused one.
    stale = _code(as_manager)
    fresh = _code(as_manager)
    assert "unknown, used or expired" in _say(CHAT + 2, f"/start m-{stale}")
    assert _say(CHAT + 2, f"/start m-{fresh}").startswith("Done")
    assert Merchant.objects.get(id=staff.merchant.id).telegram_chat_id == CHAT + 2

    audit = AuditEntry.objects.filter(action="telegram.link_code")
    assert audit.count() == 3 and all(a.user == staff.manager for a in audit)
    assert not any(code in str(a.detail) for a in audit)  # the code is never stored in clear
    assert as_viewer.delete("/api/portal/v1/telegram").status_code == 403
    assert as_manager.delete("/api/portal/v1/telegram").status_code == 204
    assert Merchant.objects.get(id=staff.merchant.id).telegram_chat_id is None
    assert AuditEntry.objects.filter(action="telegram.unlink", user=staff.manager).exists()


def test_an_expired_code_links_nothing(staff, as_owner):
    from notifications.merchant_chats import LINK_CODE_TTL, merchant_chat_link

    code = _code(as_owner)
    later = timezone.now() + LINK_CODE_TTL + timedelta(seconds=1)
    assert merchant_chat_link(code=code, chat_id=CHAT, now=later) is None
    assert Merchant.objects.get(id=staff.merchant.id).telegram_chat_id is None


def test_alert_settings_roles_tenancy_validation_and_audit(
    staff, other_staff, as_manager, as_viewer
):
    eid = _endpoint(as_manager, "https://example.com/hook")
    url = f"/api/portal/v1/webhooks/endpoints/{eid}/alert"
    assert as_viewer.get(url).json() == {"failing_minutes": None, "on_dead": False}
    saved = as_manager.put(url, {"failing_minutes": 15, "on_dead": True}, format="json")
    assert saved.status_code == 200 and saved.json() == {"failing_minutes": 15, "on_dead": True}
    assert as_viewer.get(url).json() == {"failing_minutes": 15, "on_dead": True}
    refused = as_viewer.put(url, {"failing_minutes": 1, "on_dead": False}, format="json")
    assert refused.status_code == 403
    for bad in (
        {"failing_minutes": 0, "on_dead": True},
        {"failing_minutes": 7 * 24 * 60 + 1, "on_dead": True},
        {"failing_minutes": "soon", "on_dead": True},
        {"failing_minutes": 5},
        {"failing_minutes": 5, "on_dead": True, "colour": "red"},
    ):
        answer = as_manager.put(url, bad, format="json")
        assert answer.status_code == 400, bad
        assert answer["Content-Type"].startswith("application/problem+json")
    theirs = WebhookEndpoint.objects.create(
        merchant=other_staff.merchant, url="https://example.org/h", secret_encrypted="x"
    )
    for answer in (
        as_manager.get(f"/api/portal/v1/webhooks/endpoints/{theirs.id}/alert"),
        as_manager.put(
            f"/api/portal/v1/webhooks/endpoints/{theirs.id}/alert",
            {"failing_minutes": 5, "on_dead": True},
            format="json",
        ),
    ):
        assert answer.status_code == 404
    assert not EndpointAlert.objects.filter(endpoint=theirs).exists()
    audit = AuditEntry.objects.get(action="webhook.alert_set")
    assert audit.user == staff.manager and audit.object_id == eid
    assert audit.detail == {
        "before": {"failing_minutes": None, "on_dead": False},
        "after": {"failing_minutes": 15, "on_dead": True},
    }


def test_check_alerts_once_per_condition_until_it_clears(
    setup, staff, as_manager, receiver, settings
):
    # One try per delivery: a 500 makes the endpoint failing and the delivery dead at once.
    settings.OUTBOX_RETRY_SCHEDULE = [0]
    down = {"on": True}
    receiver.respond = lambda req, n: (500, {}, b"down", 0) if down["on"] else (200, {}, b"ok", 0)
    eid = _endpoint(as_manager, receiver.url)
    url = f"/api/portal/v1/webhooks/endpoints/{eid}/alert"
    as_manager.put(url, {"failing_minutes": 10, "on_dead": True}, format="json")
    _buy(setup, "A-1")
    assert deliver_due() == 1
    endpoint = WebhookEndpoint.objects.get(id=eid)
    assert endpoint.failing_since is not None
    assert Delivery.objects.filter(endpoint_id=eid, status=DeliveryStatus.DEAD).count() == 1

    # No chat yet: nothing is sent and nothing is marked, so linking later still alerts.
    assert endpoint_alerts_check(now=endpoint.failing_since + timedelta(minutes=11)) == 0
    _say(CHAT, f"/merchant {_code(as_manager)}")
    # Failing for 5 minutes only: the dead alert, not the failing one.
    assert endpoint_alerts_check(now=endpoint.failing_since + timedelta(minutes=5)) == 1
    later = endpoint.failing_since + timedelta(minutes=11)
    assert endpoint_alerts_check(now=later) == 1
    assert endpoint_alerts_check(now=later + timedelta(minutes=30)) == 0  # cooldown
    sent = list(_alert_messages().order_by("id"))
    assert [d.telegram_chat_id for d in sent] == [CHAT, CHAT]
    assert [d.event.payload["data"]["condition"] for d in sent] == ["dead", "failing"]
    assert sent[1].event.payload["data"]["minutes"] == 11
    assert sent[0].event.payload["data"] | {"dead": 1} == sent[0].event.payload["data"]
    assert all(d.merchant_id == setup.merchant.id and d.status == "pending" for d in sent)

    # The receiver recovers: the next delivery succeeds, failing_since clears; the dead one is
    # cancelled (no dead delivery left). Both conditions re-arm, and a new failure alerts again.
    down["on"] = False
    _buy(setup, "A-2")
    deliver_due()
    Delivery.objects.filter(endpoint_id=eid, status=DeliveryStatus.DEAD).update(
        status=DeliveryStatus.CANCELLED
    )
    assert WebhookEndpoint.objects.get(id=eid).failing_since is None
    assert endpoint_alerts_check() == 0
    assert EndpointAlert.objects.get(endpoint_id=eid).failing_alerted_at is None
    assert EndpointAlert.objects.get(endpoint_id=eid).dead_alerted_at is None
    down["on"] = True
    _buy(setup, "A-3")
    deliver_due()
    since = WebhookEndpoint.objects.get(id=eid).failing_since
    assert endpoint_alerts_check(now=since + timedelta(minutes=10)) == 2
    assert _alert_messages().count() == 4


def test_alerts_page_links_and_saves_for_writers_only(staff, other_staff, as_manager):
    eid = _endpoint(as_manager, "https://example.com/hook")
    client = Client()
    page_login(client, staff.manager.email)
    assert b'href="/portal/alerts"' in client.get("/portal/").content
    page = client.get("/portal/alerts")
    assert page.status_code == 200 and b"No Telegram chat is linked yet" in page.content
    shown = client.post("/portal/alerts", {"op": "link_code"})
    assert shown.status_code == 200
    command = shown.content.decode().split('id="link-command">')[1].split("<")[0]
    assert command.startswith("/merchant ")
    assert _say(CHAT, command).startswith("Done")
    assert b"A Telegram chat is linked" in client.get("/portal/alerts").content

    saved = client.post(
        "/portal/alerts",
        {"op": "alert", "endpoint_id": eid, "failing_minutes": "30", "on_dead": "on"},
    )
    assert saved.status_code == 302
    alert = EndpointAlert.objects.get(endpoint_id=eid)
    assert (alert.failing_minutes, alert.on_dead, alert.language) == (30, True, "en")
    bad = client.post(
        "/portal/alerts", {"op": "alert", "endpoint_id": eid, "failing_minutes": "half"}
    )
    assert bad.status_code == 400 and b'id="alerts-error"' in bad.content
    theirs = WebhookEndpoint.objects.create(
        merchant=other_staff.merchant, url="https://example.org/h", secret_encrypted="x"
    )
    missing = client.post(
        "/portal/alerts", {"op": "alert", "endpoint_id": str(theirs.id), "failing_minutes": "5"}
    )
    assert missing.status_code == 404
    assert client.post("/portal/alerts", {"op": "explode"}).status_code == 404

    viewer = Client()
    page_login(viewer, staff.viewer.email)
    page = viewer.get("/portal/alerts")
    assert page.status_code == 200 and b"link-code-form" not in page.content
    assert viewer.post("/portal/alerts", {"op": "link_code"}).status_code == 403
    assert EndpointAlert.objects.get(endpoint_id=eid).failing_minutes == 30


def test_the_alerts_page_speaks_russian(staff):
    client = Client()
    page_login(client, staff.owner.email)
    client.post("/portal/language", {"language": "ru", "next": "/portal/alerts"})
    page = client.get("/portal/alerts").content.decode()
    assert "Оповещения" in page and "Получить код привязки" in page


def test_alert_text_follows_the_language_of_whoever_set_it():
    from notifications.texts import notification_text

    data = {"endpoint_url": "https://x.test/h", "condition": "failing", "minutes": 12}
    assert notification_text(ENDPOINT_ALERT, {**data, "language": "ru"}, "").startswith(
        "Вебхук https://x.test/h не принимает события уже 12 мин."
    )
    assert notification_text(ENDPOINT_ALERT, {**data, "language": "en"}, "") == (
        "Webhook https://x.test/h has been failing for 12 min. Check your receiver."
    )


def test_the_check_is_one_of_the_relays_periodic_jobs():
    from core.jobs import periodic_jobs

    (job,) = [j for j in periodic_jobs() if j.name == "portal_endpoint_alerts_check"]
    assert job.run is endpoint_alerts_check and job.every_seconds == 60
