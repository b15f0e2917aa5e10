"""The bot in read-only and maintenance modes, end to end: updates posted to the real webhook
(accepted in every mode), a real worker handling them, replies read at the fake Bot API.

Per command (notifications/bot.py, "Modes"): read-only serves reads (/balance, /help) and
politely refuses writes (/start, a shared contact, /code, /stop); maintenance answers everything
with a short notice. Refused writes change nothing."""

from __future__ import annotations

import pytest

from loyalty.models import Customer
from notifications.models import TelegramLinkRequest, TelegramUpdate
from platform_ops.models import SiteMode
from platform_ops.services import site_mode_set
from tests.factories import make_merchant
from tests.fixtures.processes import wait_until
from tests.notifications.updates import bot_env, contact_update, message_update, post_update

pytestmark = pytest.mark.slow

READ_ONLY = "Changes are paused for a short while"
MAINTENANCE = "The service is under maintenance for a short while"


def test_read_only_serves_reads_refuses_writes_then_maintenance_answers_all(
    stack, client, bot_settings, fake_api
) -> None:
    setup = make_merchant("Cafe")
    stack.worker(**bot_env(fake_api))
    chat_id = 6001
    seen = 0

    def send(update) -> str:
        nonlocal seen
        assert post_update(client, update).status_code == 200  # accepted in every mode
        got = fake_api.wait_for_messages(seen + 1, timeout=15, chat_id=chat_id)
        seen += 1
        return got[seen - 1].text

    site_mode_set(mode=SiteMode.READ_ONLY, enabled=True, reason="test", actor="tester")
    # The worker keeps the modes ~2 s: the first write may still be handled the normal way
    # only if sent within that window, so wait until the notice comes back.
    start = f"/start {setup.merchant.telegram_start_payload}"
    assert wait_until(lambda: READ_ONLY in send(message_update(chat_id, start)), timeout=20)
    assert not TelegramLinkRequest.objects.filter(chat_id=chat_id).exists()
    assert send(message_update(chat_id, "/balance")).startswith("No loyalty card is linked")
    assert send(message_update(chat_id, "/help")).startswith("Commands:\n/balance")
    assert READ_ONLY in send(message_update(chat_id, "/code"))
    assert READ_ONLY in send(message_update(chat_id, "/stop"))
    assert READ_ONLY in send(contact_update(chat_id, "+79161112233", owner_id=chat_id))
    assert not Customer.objects.filter(phone="+79161112233").exists()

    site_mode_set(mode=SiteMode.READ_ONLY, enabled=False, reason="test", actor="tester")
    site_mode_set(mode=SiteMode.MAINTENANCE, enabled=True, reason="test", actor="tester")
    assert wait_until(lambda: MAINTENANCE in send(message_update(chat_id, "/balance")), timeout=20)
    assert MAINTENANCE in send(message_update(chat_id, "/help"))

    site_mode_set(mode=SiteMode.MAINTENANCE, enabled=False, reason="test", actor="tester")
    asked = wait_until(
        lambda: (text := send(message_update(chat_id, start))).startswith("To link") and text,
        timeout=20,
    )
    assert "Cafe" in asked
    wait_until(lambda: not TelegramUpdate.objects.filter(processed_at=None).exists())
