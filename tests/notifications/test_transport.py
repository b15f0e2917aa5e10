"""The telegram channel's transport in-process against the fake Bot API: the error family it
raises, and what a chat that blocked the bot does to its customers (deliveries and replies)."""

from __future__ import annotations

import time

import pytest
from prometheus_client import REGISTRY

from loyalty.models import TelegramStatus
from loyalty.services import customer_telegram_link
from notifications.bot import Reply
from notifications.inbound import reply_send
from notifications.transport import TelegramTransport, bot_message_send
from outbox.models import Channel, Delivery
from outbox.transports import Sent, TargetGone, Throttled, TransportError
from tests.factories import make_customer, make_merchant


def _linked(chat_id: int):
    setup = make_merchant("Shop")
    customer = make_customer(setup.merchant)
    return customer_telegram_link(
        merchant=setup.merchant, phone=customer.phone, chat_id=chat_id, language="en"
    )


def _counter(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


@pytest.mark.django_db
def test_send_maps_answers_onto_the_error_family(bot_settings, fake_api) -> None:
    deadline = time.monotonic() + 5
    sent = bot_message_send(chat_id=7101, text="hello", deadline=deadline)
    assert isinstance(sent, Sent) and sent.status_code == 200

    hits = _counter("telegram_rate_limit_hits_total")
    fake_api.force_429(1, retry_after=2, methods=["sendMessage"])
    with pytest.raises(Throttled) as throttled:
        bot_message_send(chat_id=7102, text="hello", deadline=time.monotonic() + 5)
    assert throttled.value.retry_after == 2.0
    assert _counter("telegram_rate_limit_hits_total") == hits + 1

    fake_api.block_chat(7103)
    with pytest.raises(TargetGone):
        bot_message_send(chat_id=7103, text="hello", deadline=time.monotonic() + 5)


@pytest.mark.django_db
def test_unset_token_is_a_retryable_failure(bot_settings, fake_api) -> None:
    bot_settings.TELEGRAM_NOTIFY_BOT_TOKEN = None
    with pytest.raises(TransportError) as info:
        bot_message_send(chat_id=7201, text="hello", deadline=time.monotonic() + 5)
    assert info.value.error_class == "TelegramNotConfigured" and not info.value.permanent
    assert fake_api.request_log() == []


@pytest.mark.django_db
def test_target_gone_marks_the_chats_customers_blocked(bot_settings, fake_api) -> None:
    customer = _linked(7301)
    delivery = Delivery.objects.get(channel=Channel.TELEGRAM, telegram_chat_id=7301)
    TelegramTransport().target_gone(delivery, reason="the user blocked the bot")
    customer.refresh_from_db()
    assert customer.telegram_status == TelegramStatus.BLOCKED


@pytest.mark.django_db
def test_reply_to_a_chat_that_blocked_the_bot_marks_its_customers(bot_settings, fake_api) -> None:
    customer = _linked(7401)
    fake_api.block_chat(7401)
    blocked = _counter("bot_errors_total", {"kind": "reply_blocked"})
    assert reply_send(Reply(chat_id=7401, text="Balance: 0 points.")) is False
    customer.refresh_from_db()
    assert customer.telegram_status == TelegramStatus.BLOCKED
    assert _counter("bot_errors_total", {"kind": "reply_blocked"}) == blocked + 1
    assert [r.status for r in fake_api.request_log("sendMessage")] == [403]
