"""The webhook endpoint: secret checks, storing updates once, processing them once, and no update
lost when the broker is away. Processing runs in this process here; test_bot_flows.py runs it in
a real worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.actors import process_telegram_update
from notifications.inbound import telegram_update_process
from notifications.jobs import inbound_sweep
from notifications.models import TelegramUpdate
from notifications.selectors import telegram_inbound_depth
from tests.notifications.updates import SECRET, message_update, post_update


def _assert_forbidden(response) -> None:
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 403 and body["type"].endswith("/forbidden")
    assert TelegramUpdate.objects.count() == 0


@pytest.mark.django_db
def test_missing_secret_header_is_forbidden(client, bot_settings) -> None:
    _assert_forbidden(post_update(client, message_update(1, "/help"), secret=None))


@pytest.mark.django_db
def test_wrong_secret_is_forbidden(client, bot_settings) -> None:
    _assert_forbidden(post_update(client, message_update(1, "/help"), secret=SECRET + "x"))
    _assert_forbidden(post_update(client, message_update(1, "/help"), secret=""))


@pytest.mark.django_db
def test_no_configured_secret_forbids_everyone(client, bot_settings) -> None:
    bot_settings.TELEGRAM_NOTIFY_WEBHOOK_SECRET = None
    _assert_forbidden(post_update(client, message_update(1, "/help"), secret=SECRET))
    _assert_forbidden(post_update(client, message_update(1, "/help"), secret=""))


@pytest.mark.django_db
def test_update_is_stored_and_acknowledged(
    client, bot_settings, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    queued: list[int] = []
    monkeypatch.setattr(process_telegram_update, "send", queued.append)
    update = message_update(4242, "/balance")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_update(client, update)
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    row = TelegramUpdate.objects.get()
    assert row.update_id == update["update_id"] and row.chat_id == 4242
    assert row.payload == update and row.processed_at is None
    assert queued == [update["update_id"]]  # the wake-up went out after the commit
    assert telegram_inbound_depth() == 1


@pytest.mark.django_db
def test_malformed_update_is_a_validation_problem(client, bot_settings) -> None:
    response = post_update(client, {"message": {}})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "update_id" in response.json()["errors"]
    assert TelegramUpdate.objects.count() == 0


@pytest.mark.django_db
def test_duplicate_update_is_stored_and_processed_once(
    client, bot_settings, fake_api, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    queued: list[int] = []
    monkeypatch.setattr(process_telegram_update, "send", queued.append)
    update = message_update(777, "/help")
    with django_capture_on_commit_callbacks(execute=True):
        assert post_update(client, update).status_code == 200
        assert post_update(client, update).status_code == 200  # Telegram's retry
    assert TelegramUpdate.objects.count() == 1
    assert queued == [update["update_id"]]
    # Even when woken twice (a redelivered message, the sweep), it is processed once.
    assert telegram_update_process(update_id=update["update_id"]) is True
    assert telegram_update_process(update_id=update["update_id"]) is False
    fake_api.wait_for_messages(1, timeout=5, chat_id=777)
    assert len(fake_api.messages(chat_id=777)) == 1
    assert "/balance" in fake_api.messages(chat_id=777)[0].text
    row = TelegramUpdate.objects.get()
    assert row.processed_at is not None and row.attempts == 1
    assert telegram_inbound_depth() == 0


@pytest.mark.django_db
def test_broker_away_loses_no_update(
    client, bot_settings, fake_api, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    def refuse(update_id: int) -> None:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(process_telegram_update, "send", refuse)
    update = message_update(888, "hello")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_update(client, update)
    assert response.status_code == 200  # acknowledged: the row is the truth
    assert TelegramUpdate.objects.filter(processed_at=None).count() == 1

    # The broker is back; the relay's sweep wakes a worker for the row it finds unprocessed.
    woken: list[int] = []
    monkeypatch.setattr(process_telegram_update, "send", woken.append)
    assert inbound_sweep() == 0  # too fresh: its own wake-up may still be on the way
    TelegramUpdate.objects.update(received_at=timezone.now() - timedelta(minutes=1))
    assert inbound_sweep() == 1
    assert woken == [update["update_id"]]
    assert telegram_update_process(update_id=woken[0]) is True
    assert fake_api.wait_for_messages(1, timeout=5, chat_id=888)[0].text.startswith("Commands")


@pytest.mark.django_db
def test_failing_update_is_retried_then_given_up(bot_settings, fake_api, monkeypatch) -> None:
    from notifications import inbound
    from notifications.intake import telegram_update_receive
    from notifications.services import MAX_ATTEMPTS

    update = message_update(999, "/help")
    monkeypatch.setattr(process_telegram_update, "send", lambda update_id: None)
    telegram_update_receive(payload=update)

    def broken(payload):
        raise RuntimeError("bug")

    monkeypatch.setattr(inbound, "update_handle", broken)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert telegram_update_process(update_id=update["update_id"]) is False
        row = TelegramUpdate.objects.get()
        assert row.attempts == attempt and "RuntimeError: bug" in row.error
        # The next try is due after a back-off; pretend it passed.
        TelegramUpdate.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    row = TelegramUpdate.objects.get()
    assert row.processed_at is not None and row.error.startswith("gave up after 5 tries")
    assert fake_api.messages() == []
