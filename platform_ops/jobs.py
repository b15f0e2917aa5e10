"""Periodic jobs of operations (listed in ``PERIODIC_JOBS``, hosted by the relay)."""

from __future__ import annotations

from core.jobs import PeriodicJob
from platform_ops.alerts import ALERTS_CHECK_INTERVAL_SECONDS, alerts_check
from platform_ops.rollups import outbox_rollup


def jobs() -> list[PeriodicJob]:
    # Every 15 s so that no minute is skipped; each minute is evaluated once across relays.
    # outbox_rollup: the admin's operations panel reads its per-minute rows (platform_ops.rollups).
    return [
        PeriodicJob("alerts", ALERTS_CHECK_INTERVAL_SECONDS, alerts_check),
        PeriodicJob("outbox_rollup", 15, outbox_rollup),
    ]
