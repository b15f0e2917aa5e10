"""Retry policy decisions and the claim query's guarantees."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from outbox.policy import CLIENT_ERROR_MAX_ATTEMPTS, decide

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SCHEDULE = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]


def test_schedule_steps_with_full_jitter():
    rng = random.Random(1)
    for attempts, step in enumerate(SCHEDULE[1:], start=1):
        decision = decide(
            attempts_done=attempts,
            schedule=SCHEDULE,
            now=NOW,
            status_code=500,
            retry_after=None,
            permanent=False,
            rng=rng,
        )
        assert not decision.dead
        assert NOW <= decision.next_attempt_at <= NOW + timedelta(seconds=step)


def test_dead_after_schedule():
    decision = decide(
        attempts_done=len(SCHEDULE),
        schedule=SCHEDULE,
        now=NOW,
        status_code=500,
        retry_after=None,
        permanent=False,
    )
    assert decision.dead


def test_retry_after_honoured_exactly():
    decision = decide(
        attempts_done=1,
        schedule=SCHEDULE,
        now=NOW,
        status_code=429,
        retry_after=42,
        permanent=False,
    )
    assert decision.next_attempt_at == NOW + timedelta(seconds=42)


def test_client_errors_get_fewer_tries():
    assert not decide(
        attempts_done=CLIENT_ERROR_MAX_ATTEMPTS - 1,
        schedule=SCHEDULE,
        now=NOW,
        status_code=400,
        retry_after=None,
        permanent=False,
    ).dead
    assert decide(
        attempts_done=CLIENT_ERROR_MAX_ATTEMPTS,
        schedule=SCHEDULE,
        now=NOW,
        status_code=400,
        retry_after=None,
        permanent=False,
    ).dead
    assert not decide(
        attempts_done=CLIENT_ERROR_MAX_ATTEMPTS,
        schedule=SCHEDULE,
        now=NOW,
        status_code=408,
        retry_after=None,
        permanent=False,
    ).dead


def test_permanent_is_dead_at_once():
    assert decide(
        attempts_done=1,
        schedule=SCHEDULE,
        now=NOW,
        status_code=None,
        retry_after=None,
        permanent=True,
    ).dead
