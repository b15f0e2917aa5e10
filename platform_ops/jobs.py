"""Periodic jobs of operations (listed in ``PERIODIC_JOBS``, hosted by the relay)."""

from __future__ import annotations

from core.jobs import PeriodicJob
from platform_ops.alerts import ALERTS_CHECK_INTERVAL_SECONDS, alerts_check
from platform_ops.heartbeat import RELAY_HEARTBEAT_INTERVAL_SECONDS, relay_heartbeat


def jobs() -> list[PeriodicJob]:
    return [
        # Every 15 s so that no minute is skipped; each minute is evaluated once across relays.
        PeriodicJob("alerts", ALERTS_CHECK_INTERVAL_SECONDS, alerts_check),
        # Cheap and database-free: /health and the Prometheus rules see a dead relay.
        PeriodicJob("relay_heartbeat", RELAY_HEARTBEAT_INTERVAL_SECONDS, relay_heartbeat),
    ]
