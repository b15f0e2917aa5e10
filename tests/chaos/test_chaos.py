"""The short chaos run of ``make test`` (the long one: ``bench/bench_chaos.py``)."""

from __future__ import annotations

import os

import pytest

from tests.chaos.rig import ChaosRun
from tests.fixtures.brokers import BROKERS

pytestmark = pytest.mark.slow

#: Seconds of chaos; the drain after it waits for the flaky endpoint's circuit (60 s cool-down).
SECONDS = 20


@pytest.mark.parametrize("broker", BROKERS, indirect=True)
def test_chaos_run_keeps_the_ledger(stack, broker, receiver):
    # On RabbitMQ the Redis restarts hit the cache, the limiter and the breakers, not the broker.
    services = os.environ.get("SERVICES_DIR")
    if not services:
        pytest.fail("SERVICES_DIR is not set: run through make test")
    seed = int(os.environ.get("CHAOS_SEED", "11"))
    run = ChaosRun(stack=stack, receiver=receiver, services_dir=services, seed=seed)
    report = run.run(seconds=SECONDS, drain_timeout=90)
    print(report.line())
    # The driver did its job: every kind of fault happened at least once.
    assert set(report.actions) == {"kill_worker", "kill_relay", "restart_redis"}, report.actions
    assert report.failures_answered > 0  # and the flaky receiver failed for a while
    assert report.delivered > 0
