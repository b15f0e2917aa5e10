"""Updates PostgreSQL cannot store as sent are acknowledged and stored anyway, never a 500:
Telegram resends an unacknowledged update forever and holds the bot's later ones behind it."""

from __future__ import annotations

import pytest

from notifications.actors import process_telegram_update
from notifications.models import TelegramUpdate
from tests.notifications.updates import SECRET, message_update, post_update


@pytest.fixture
def webhook(settings, monkeypatch, django_capture_on_commit_callbacks):
    settings.TELEGRAM_NOTIFY_WEBHOOK_SECRET = SECRET
    queued: list[int] = []
    monkeypatch.setattr(process_telegram_update, "send", queued.append)
    return queued


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b", "\udfff"], ids=["nul", "high", "low"])
def test_unstorable_text_is_stored_sanitised_and_queued(
    client, webhook, bad, django_capture_on_commit_callbacks
):
    update = message_update(777, "hello " + bad)
    update["message"]["from"]["first_name" + bad] = bad  # in a key too
    with django_capture_on_commit_callbacks(execute=True):
        response = post_update(client, update)
    assert response.status_code == 200 and response.json() == {"ok": True}
    row = TelegramUpdate.objects.get(update_id=update["update_id"])
    clean = bad.replace("\x00", "\ufffd").replace("\ud800", "\ufffd").replace("\udfff", "\ufffd")
    assert row.payload["message"]["text"] == "hello " + clean
    assert row.payload["message"]["from"]["first_name" + clean] == clean
    assert row.chat_id == 777 and row.processed_at is None
    assert webhook == [update["update_id"]]  # processed like any other update


@pytest.mark.django_db
def test_update_id_past_bigint_is_acknowledged_and_stored_unprocessed(client, webhook):
    update = message_update(777, "/help", update_id=2**64 + 5)
    first = post_update(client, update)
    again = post_update(client, update)  # Telegram's resend deduplicates
    assert first.status_code == 200 and again.status_code == 200
    row = TelegramUpdate.objects.get()
    assert row.update_id < 0 and row.payload["update_id"] == 2**64 + 5
    assert row.processed_at is not None and "update_id" in row.error
    assert webhook == []


@pytest.mark.django_db
@pytest.mark.parametrize("chat_id", [2**63, -(2**63) - 1, 10**40])
def test_chat_id_past_bigint_is_acknowledged_and_stored_unprocessed(client, webhook, chat_id):
    update = message_update(chat_id, "/start abc")
    response = post_update(client, update)
    assert response.status_code == 200
    row = TelegramUpdate.objects.get(update_id=update["update_id"])
    assert row.chat_id is None and row.payload["message"]["chat"]["id"] == chat_id
    assert row.processed_at is not None and "chat.id" in row.error
    assert webhook == []
