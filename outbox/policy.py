"""Retry policy: what happens to a delivery after a failed try.

The engine calls :func:`decide` for every try that reached the provider and failed, with what the
transport's error says (:mod:`outbox.transports`):

* 2xx: delivered.
* A permanent error (``webhook-delivery: abort-message`` from the receiver, 410 Gone, a Telegram
  chat that blocked the bot, an unsafe target, no text for the event): dead at once (a gone
  target is also retired by the engine).
* 429 or 503 with ``Retry-After``: the next try waits exactly that long (capped at one hour).
* A throttled try (Telegram's 429 with ``retry_after``): waits exactly that long and uses no
  step of the schedule, so a busy Bot API never kills a message.
* Timeouts, connection errors, 5xx, 408, 429: the next step of the schedule, with full jitter
  (a uniform delay between zero and the step, so that retries of many messages to one failing
  receiver spread out instead of arriving as a thundering herd when it recovers).
* Other 4xx: the receiver rejected the message; we try at most
  :data:`CLIENT_ERROR_MAX_ATTEMPTS` times in all, on the same schedule.
* When the schedule is exhausted: dead (replayable).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

#: Tries in all for a delivery the receiver rejects with a 4xx other than 408/410/429.
CLIENT_ERROR_MAX_ATTEMPTS = 3

_RETRYABLE_STATUSES = {408, 429}


@dataclass(frozen=True)
class Decision:
    dead: bool
    next_attempt_at: datetime | None = None


def decide(
    *,
    attempts_done: int,
    schedule: list[int],
    now: datetime,
    status_code: int | None,
    retry_after: float | None,
    permanent: bool,
    throttled: bool = False,
    rng: random.Random | None = None,
) -> Decision:
    """Next state after the ``attempts_done``-th try failed (``attempts_done`` >= 1)."""
    if permanent:
        return Decision(dead=True)
    if throttled and retry_after is not None:
        return Decision(dead=False, next_attempt_at=now + timedelta(seconds=retry_after))
    max_attempts = len(schedule)
    if (
        status_code is not None
        and 400 <= status_code < 500
        and status_code not in _RETRYABLE_STATUSES
    ):
        max_attempts = min(max_attempts, CLIENT_ERROR_MAX_ATTEMPTS)
    if attempts_done >= max_attempts:
        return Decision(dead=True)
    if retry_after is not None:
        return Decision(dead=False, next_attempt_at=now + timedelta(seconds=retry_after))
    step = schedule[attempts_done]
    uniform = rng.uniform if rng is not None else random.uniform
    delay = uniform(0, step) if step > 0 else 0
    return Decision(dead=False, next_attempt_at=now + timedelta(seconds=delay))
