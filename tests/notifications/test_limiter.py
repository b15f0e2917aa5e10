"""The send-rate limiter's rules, on Redis (shared by processes) and in memory (embedded run)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest

from notifications.limiter import (
    BOT_MAX_PER_WINDOW,
    CHAT_INTERVAL_SECONDS,
    SLOW_INTERVAL_SECONDS,
    MemoryBackend,
    NoSlot,
    RedisBackend,
    SendRateLimiter,
)


@pytest.fixture(params=["redis", "memory"])
def limiter(request, settings) -> Iterator[SendRateLimiter]:
    settings.RATE_LIMIT_MODE = "normal"
    backend = RedisBackend(os.environ["REDIS_URL"]) if request.param == "redis" else MemoryBackend()
    yield SendRateLimiter(backend)


@pytest.fixture
def bot() -> str:
    return uuid.uuid4().hex[:8]  # a bot of its own: no other test's sends count


def _send(limiter: SendRateLimiter, bot: str, chat_id: int, *, within: float = 5.0) -> float:
    """Acquire, "send" at once, release; returns when it was let through."""
    ticket = limiter.acquire(bot=bot, chat_id=chat_id, deadline=time.monotonic() + within)
    at = time.monotonic()
    limiter.release(ticket)
    return at


def test_one_chat_gets_one_message_per_interval(limiter, bot) -> None:
    first = _send(limiter, bot, 1)
    second = _send(limiter, bot, 1)
    assert second - first >= CHAT_INTERVAL_SECONDS - 0.01


def test_bot_slots_are_evenly_spaced(limiter, bot) -> None:
    stamps = [_send(limiter, bot, chat_id) for chat_id in range(10)]
    assert stamps[-1] - stamps[0] >= 9 / 29 - 0.01
    assert stamps[-1] - stamps[0] < 1.0


def test_slow_mode_and_refusals_reserve_nothing(limiter, bot, settings) -> None:
    settings.RATE_LIMIT_MODE = "slow"
    start = _send(limiter, bot, 1)
    with pytest.raises(NoSlot) as refused:
        limiter.acquire(bot=bot, chat_id=2, deadline=time.monotonic() + 0.5)
    assert 0.5 <= refused.value.retry_after <= SLOW_INTERVAL_SECONDS
    # The refused caller held no slot: the next one gets the slot right after the first send.
    third = _send(limiter, bot, 3)
    assert SLOW_INTERVAL_SECONDS - 0.01 <= third - start < 2 * SLOW_INTERVAL_SECONDS - 0.1


def test_sends_in_flight_count_until_answered(limiter, bot) -> None:
    tickets = [
        limiter.acquire(bot=bot, chat_id=chat_id, deadline=time.monotonic() + 5)
        for chat_id in range(BOT_MAX_PER_WINDOW)
    ]
    # Thirty unanswered sends may all arrive in the same second: a 31st must wait for them.
    with pytest.raises(NoSlot):
        limiter.acquire(bot=bot, chat_id=999, deadline=time.monotonic() + 0.3)
    answered = time.monotonic()
    for ticket in tickets:
        limiter.release(ticket)
    let_through = _send(limiter, bot, 1000)
    assert let_through - answered >= 1.0  # a whole second after the oldest answer


def test_held_chat_waits_for_the_hold(limiter, bot) -> None:
    limiter.hold_chat(bot=bot, chat_id=7, seconds=1.0)
    started = time.monotonic()
    _send(limiter, bot, 7)
    assert time.monotonic() - started >= 0.99
    with pytest.raises(NoSlot) as refused:
        limiter.hold_chat(bot=bot, chat_id=8, seconds=3.0)
        limiter.acquire(bot=bot, chat_id=8, deadline=time.monotonic() + 0.5)
    assert refused.value.retry_after >= 2.0  # come back when the chat is free
