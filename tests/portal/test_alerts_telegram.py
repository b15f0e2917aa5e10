"""Merchant endpoint alerts end to end: the portal's code posted to the real Telegram webhook
links the chat (a real Dramatiq worker handles the update), a real failed delivery to a
loopback receiver goes dead, the alert check records one Telegram message, and the real relay
and worker deliver it to the fake Bot API over HTTP, counted and attempted like any message."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from loyalty.services import purchase_commit
from outbox.chat_messages import ENDPOINT_ALERT
from outbox.models import Attempt, Channel, Delivery, DeliveryStatus
from portal.services.alerts import endpoint_alerts_check
from tests.factories import make_customer, make_merchant
from tests.fakes.telegram_bot_api import FakeBotApi
from tests.fixtures.processes import wait_until
from tests.notifications.updates import SECRET, TOKEN, bot_env, message_update, post_update
from tests.portal.conftest import make_staff, signed_in

pytestmark = pytest.mark.slow

CHAT = 91001


@pytest.fixture
def fake_api() -> Iterator[FakeBotApi]:
    with FakeBotApi() as fake:
        yield fake


@pytest.fixture
def bot_settings(settings: Any, fake_api: FakeBotApi) -> Any:
    """This process (the webhook view) talks to the fake, as the worker and relay do."""
    settings.TELEGRAM_NOTIFY_BOT_TOKEN = TOKEN
    settings.TELEGRAM_NOTIFY_WEBHOOK_SECRET = SECRET
    settings.TELEGRAM_API_BASE_URL = fake_api.url
    return settings


def test_dead_delivery_alert_reaches_the_merchant_chat_once(
    stack,
    client,
    bot_settings,
    fake_api,
    receiver,
) -> None:
    setup = make_merchant("Quay Cafe")
    manager = signed_in(make_staff(setup.merchant).manager)
    # One try per delivery: the receiver's 500 makes the webhook delivery dead at once.
    env = bot_env(fake_api, OUTBOX_RETRY_SCHEDULE="0")
    stack.worker(**env)
    stack.relay(**env)
    receiver.respond = lambda req, n: (500, {}, b"down", 0)

    code = manager.post("/api/portal/v1/telegram/link-code").json()["code"]
    assert post_update(client, message_update(CHAT, f"/merchant {code}")).status_code == 200
    linked = fake_api.wait_for_messages(1, timeout=20, chat_id=CHAT)[0]
    assert linked.text == "Done: this chat now gets Quay Cafe's webhook alerts."
    assert manager.get("/api/portal/v1/telegram").json() == {"linked": True}

    eid = manager.post(
        "/api/portal/v1/webhooks/endpoints",
        {"url": receiver.url, "event_types": ["purchase.committed"], "ordered": False},
        format="json",
    ).json()["id"]
    alert = manager.put(
        f"/api/portal/v1/webhooks/endpoints/{eid}/alert",
        {"failing_minutes": None, "on_dead": True},
        format="json",
    )
    assert alert.status_code == 200
    purchase_commit(
        merchant=setup.merchant,
        customer_id=make_customer(setup.merchant).id,
        amount_minor=12_00,
        order_id="E2E-1",
        outlet_id=setup.outlet.id,
    )
    wait_until(
        lambda: Delivery.objects.filter(endpoint_id=eid, status=DeliveryStatus.DEAD).exists()
    )

    # The relay hosts this job too; whichever runs first records the one alert.
    endpoint_alerts_check()
    endpoint_alerts_check()
    got = fake_api.wait_for_messages(2, timeout=20, chat_id=CHAT)
    assert got[1].text == f"Webhook {receiver.url}: 1 dead deliveries. Replay them from the portal."
    alerts = Delivery.objects.filter(channel=Channel.TELEGRAM, event__event_type=ENDPOINT_ALERT)
    wait_until(lambda: alerts.filter(status=DeliveryStatus.DELIVERED).count() == 1)
    assert alerts.count() == 1 and alerts.get().telegram_chat_id == CHAT
    assert Attempt.objects.filter(delivery=alerts.get(), status_code=200).count() == 1
    assert endpoint_alerts_check() == 0  # cooldown: nothing new while the delivery stays dead
    assert len(fake_api.messages(chat_id=CHAT)) == 2


def test_a_chat_that_blocked_the_bot_is_forgotten_and_alerts_wait(
    setup, bot_settings, fake_api, receiver, settings
) -> None:
    from django.utils import timezone

    from loyalty.models import Merchant
    from notifications.merchant_chats import merchant_chat_link, merchant_link_code_issue
    from portal.services.alerts import endpoint_alert_set
    from tests.portal.conftest import deliver_due

    settings.OUTBOX_RETRY_SCHEDULE = [0]
    receiver.respond = lambda req, n: (500, {}, b"down", 0)
    staff = make_staff(setup.merchant)
    code, _ = merchant_link_code_issue(merchant=setup.merchant)
    assert merchant_chat_link(code=code, chat_id=CHAT) is not None
    manager = signed_in(staff.manager)
    eid = manager.post(
        "/api/portal/v1/webhooks/endpoints",
        {"url": receiver.url, "event_types": ["purchase.committed"], "ordered": False},
        format="json",
    ).json()["id"]
    endpoint_alert_set(by=staff.manager, endpoint_id=eid, failing_minutes=1, on_dead=False)
    purchase_commit(
        merchant=setup.merchant,
        customer_id=make_customer(setup.merchant).id,
        amount_minor=5_00,
        order_id="B-1",
        outlet_id=setup.outlet.id,
    )
    assert deliver_due() == 1  # the webhook: 500, the endpoint is failing
    fake_api.block_chat(CHAT)
    assert endpoint_alerts_check(now=timezone.now() + timedelta(minutes=2)) == 1
    assert deliver_due() == 1  # the alert: 403 blocked
    alert = Delivery.objects.get(channel=Channel.TELEGRAM, event__event_type=ENDPOINT_ALERT)
    assert alert.status == DeliveryStatus.DEAD
    assert Merchant.objects.get(id=setup.merchant.id).telegram_chat_id is None
    assert fake_api.messages(chat_id=CHAT) == []
