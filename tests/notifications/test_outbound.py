"""Customer notifications through the outbox: committed events, a real relay and real Dramatiq
worker processes, the shared Redis rate limiter, and the fake Bot API with Telegram's limits."""

from __future__ import annotations

import time
from datetime import timedelta
from itertools import pairwise

import pytest
from django.db import connections
from django.utils import timezone

from loyalty.models import Customer, TelegramStatus
from loyalty.services import customer_telegram_link, points_adjust, purchase_commit, refund_create
from notifications.limiter import send_rate_limiter
from outbox.engine import deliveries_process, send_pool
from outbox.models import Attempt, Channel, Delivery, DeliveryStatus
from outbox.relay import deliveries_claim
from tests.factories import make_customer, make_merchant
from tests.fixtures.processes import wait_until
from tests.notifications.updates import bot_env

pytestmark = pytest.mark.slow


def _link(merchant, chat_id: int, *, language: str = "en", points: int = 0) -> Customer:
    customer = make_customer(merchant, points=points)
    return customer_telegram_link(
        merchant=merchant, phone=customer.phone, chat_id=chat_id, language=language
    )


def _telegram_deliveries():
    return Delivery.objects.filter(channel=Channel.TELEGRAM)


def _refusals(fake) -> str:
    """Why the fake refused sends: per 429, the chat's previous send and the bot's last second."""
    sends = fake.request_log("sendMessage")
    accepted = [r for r in sends if r.status == 200]
    lines = []
    for r in (r for r in sends if r.status == 429):
        chat = r.params["chat_id"]
        before = [
            a.monotonic
            for a in accepted
            if a.params["chat_id"] == chat and a.monotonic < r.monotonic
        ]
        recent = sum(1 for a in accepted if r.monotonic - 1.0 < a.monotonic <= r.monotonic)
        gap = f"{r.monotonic - before[-1]:.3f}s" if before else "-"
        lines.append(f"chat {chat}: previous send {gap} before, {recent} sends in the last second")
    return "\n".join(lines)


def _all_delivered(total: int) -> bool:
    return _telegram_deliveries().filter(status=DeliveryStatus.DELIVERED).count() == total


def test_purchase_and_refund_notifications_arrive_with_their_text(stack, fake_api) -> None:
    setup = make_merchant("Shop")
    customer = _link(setup.merchant, 8001)
    stack.worker(**bot_env(fake_api))
    stack.relay(**bot_env(fake_api))
    purchase = purchase_commit(
        merchant=setup.merchant,
        customer_id=customer.id,
        amount_minor=250_00,
        order_id="A-1",
        outlet_id=setup.outlet.id,
    )
    assert purchase.earned_points == 12
    refund = refund_create(merchant=setup.merchant, purchase_id=purchase.id, amount_minor=100_00)
    assert refund.earned_points_reversed == 4
    got = fake_api.wait_for_messages(3, timeout=20, chat_id=8001)
    assert [m.text for m in got] == [
        "Your loyalty card is linked. Balance: 0 points. At the register, send /code and show "
        "the code.",
        "Purchase A-1: 250.00. You earned 12 points. Balance: 12 points.",
        "Refund of 100.00 for order A-1. 4 points taken back. Balance: 8 points.",
    ]
    wait_until(lambda: _all_delivered(3))


def test_russian_customer_gets_russian_notifications(stack, fake_api) -> None:
    setup = make_merchant("Лавка")
    customer = _link(setup.merchant, 8101, language="ru")
    points_adjust(merchant=setup.merchant, customer_id=customer.id, points=22, reason="подарок")
    stack.worker(**bot_env(fake_api))
    stack.relay(**bot_env(fake_api))
    got = fake_api.wait_for_messages(2, timeout=20, chat_id=8101)
    assert got[1].text == "Начислено 22 балла (подарок). Баланс: 22 балла."


def test_limiter_keeps_both_limits_across_worker_processes(stack, fake_api) -> None:
    setup = make_merchant("Busy")
    chats = list(range(9000, 9040))
    for chat_id in chats:
        customer = _link(setup.merchant, chat_id)
        for n in (1, 2):
            points_adjust(
                merchant=setup.merchant, customer_id=customer.id, points=n, reason="bonus"
            )
    total = len(chats) * 3
    assert _telegram_deliveries().count() == total
    # A short limiter wait makes senders hand deliveries back now and then; that must cost
    # neither a try nor a message.
    env = bot_env(fake_api, TELEGRAM_SEND_MAX_WAIT_SECONDS="1")
    stack.worker("worker-a", threads=4, **env)
    stack.worker("worker-b", threads=4, **env)
    stack.relay(**env)

    got = fake_api.wait_for_messages(total, timeout=60)
    wait_until(lambda: _all_delivered(total), timeout=20)
    stats = fake_api.stats()
    assert stats["count_429"] == 0, _refusals(fake_api)
    assert stats["max_rate_global"] <= 30
    assert stats["max_rate_per_chat"] <= 1
    assert len(got) == total  # nothing sent twice
    for chat_id in chats:  # one chat's messages in commit order
        texts = [m.text for m in got if m.chat_id == chat_id]
        assert texts[0].startswith("Your loyalty card is linked")
        assert texts[1].startswith("You got 1 point (bonus)")
        assert texts[2].startswith("You got 2 points (bonus)")
    assert set(_telegram_deliveries().values_list("attempts", flat=True)) == {1}
    assert Attempt.objects.count() == total  # a handed-back send records no attempt
    span = got[-1].monotonic - got[0].monotonic
    assert (total - 1) / span <= 30


def test_429_waits_retry_after_without_using_retry_steps(stack, fake_api) -> None:
    setup = make_merchant("Shop")
    _link(setup.merchant, 8201)
    # More 429s in a row than the test retry schedule has steps (0,1,1,1: four tries).
    fake_api.force_429(4, retry_after=1, methods=["sendMessage"])
    stack.worker(**bot_env(fake_api))
    stack.relay(**bot_env(fake_api))
    got = fake_api.wait_for_messages(1, timeout=30, chat_id=8201)
    assert got[0].text.startswith("Your loyalty card is linked")
    wait_until(lambda: _all_delivered(1))
    sends = fake_api.request_log("sendMessage")
    assert [r.status for r in sends] == [429, 429, 429, 429, 200]
    gaps = [b.monotonic - a.monotonic for a, b in pairwise(sends)]
    assert all(gap >= 1.0 for gap in gaps), gaps  # exactly retry_after, never sooner
    assert all(gap < 6.0 for gap in gaps), gaps  # then soon: the relay polls every second
    delivery = _telegram_deliveries().get()
    assert delivery.attempts == 1  # throttled tries use no step
    assert Attempt.objects.filter(delivery=delivery).count() == 5
    time.sleep(1.0)
    assert len(fake_api.messages(chat_id=8201)) == 1


def test_blocked_user_ends_delivery_without_retries(stack, fake_api) -> None:
    setup = make_merchant("Shop")
    customer = _link(setup.merchant, 8301)
    fake_api.block_chat(8301)
    stack.worker(**bot_env(fake_api))
    stack.relay(**bot_env(fake_api))
    wait_until(lambda: _telegram_deliveries().filter(status=DeliveryStatus.DEAD).count() == 1)
    delivery = _telegram_deliveries().get()
    assert delivery.attempts == 1 and delivery.last_status_code == 403
    customer.refresh_from_db()
    assert customer.telegram_status == TelegramStatus.BLOCKED
    time.sleep(2.5)  # longer than the test schedule's steps: nothing is retried
    assert [r.status for r in fake_api.request_log("sendMessage")] == [403]
    # A blocked chat gets no new deliveries.
    points_adjust(merchant=setup.merchant, customer_id=customer.id, points=5, reason="later")
    assert _telegram_deliveries().count() == 1


def test_slow_mode_spaces_messages_by_one_and_a_half_seconds(stack, fake_api) -> None:
    setup = make_merchant("Shop")
    for chat_id in range(8401, 8405):
        _link(setup.merchant, chat_id)
    env = bot_env(fake_api, RATE_LIMIT_MODE="slow")
    stack.worker(threads=4, **env)
    stack.relay(**env)
    got = fake_api.wait_for_messages(4, timeout=30)
    gaps = [b.monotonic - a.monotonic for a, b in pairwise(got)]
    assert all(gap >= 1.5 for gap in gaps), gaps
    assert all(gap < 8.0 for gap in gaps), gaps  # paced, not stalled (loose: busy CI machines)


@pytest.mark.django_db(transaction=True)
def test_send_without_a_slot_in_time_is_handed_back_uncounted(bot_settings, fake_api) -> None:
    bot_settings.TELEGRAM_SEND_MAX_WAIT_SECONDS = 0.2
    setup = make_merchant("Shop")
    _link(setup.merchant, 8501)
    # The chat's previous message was a moment ago (a 429 asked for a pause, say).
    send_rate_limiter().hold_chat(bot="123456", chat_id=8501, seconds=30)
    claim = deliveries_claim(batch=10, lease_seconds=60)
    assert claim is not None
    before = timezone.now()
    counts = deliveries_process(delivery_ids=claim.ids, lease_token=str(claim.token))
    assert counts == {"deferred": 1}
    delivery = _telegram_deliveries().get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0
    assert delivery.next_attempt_at > before + timedelta(seconds=5)  # when the chat is free
    assert Attempt.objects.count() == 0
    assert fake_api.request_log() == []
    # The engine's send thread opened its own database connection; close it with the test.
    send_pool(Channel.TELEGRAM).submit(connections.close_all).result()
