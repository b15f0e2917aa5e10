"""Periodic jobs of operations (listed in ``PERIODIC_JOBS``, hosted by the relay).

``outbox_went_dead_count``
    ``loyalty_outbox_dead_total`` is a gauge of the dead rows now: a replay lowers it, and
    Prometheus's ``increase()`` reads a drop as a counter reset, so a partial replay looked like
    a burst of new dead deliveries (LoyaltyOutboxDeadGrowth fired). This job feeds the counter
    ``loyalty_outbox_went_dead_total``: every minute it adds the deliveries that went dead in
    the window since its watermark, which is kept in the shared cache so that several relays
    count each window once (a lock in the cache). The window ends
    :data:`WENT_DEAD_SETTLE_SECONDS` in the past: a worker's transaction stamps ``updated_at``
    before it commits. With the cache away the job skips (the counter waits, nothing doubles).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from core.cache import cache_add, cache_delete, cache_get, cache_set
from core.jobs import PeriodicJob
from outbox.selectors import deliveries_went_dead_count
from platform_ops.alerts import ALERTS_CHECK_INTERVAL_SECONDS, alerts_check
from platform_ops.heartbeat import RELAY_HEARTBEAT_INTERVAL_SECONDS, relay_heartbeat
from platform_ops.metrics import OUTBOX_WENT_DEAD
from platform_ops.rollups import outbox_rollup

WENT_DEAD_INTERVAL_SECONDS = 60
WENT_DEAD_SETTLE_SECONDS = 60
WENT_DEAD_WATERMARK_KEY = "platform_ops:went_dead:watermark"
WENT_DEAD_LOCK_KEY = "platform_ops:went_dead:lock"


def outbox_went_dead_count(*, now: datetime | None = None) -> int | None:
    """Count the deliveries that went dead since the watermark; None when skipped."""
    until = (now or timezone.now()) - timedelta(seconds=WENT_DEAD_SETTLE_SECONDS)
    if not cache_add(WENT_DEAD_LOCK_KEY, 1, WENT_DEAD_INTERVAL_SECONDS):
        return None  # another relay counts now, or the cache is away
    try:
        watermark = cache_get(WENT_DEAD_WATERMARK_KEY)
        if not isinstance(watermark, datetime):
            # First run: start counting from here (what went dead before is the gauge's story).
            cache_set(WENT_DEAD_WATERMARK_KEY, until, 30 * 24 * 3600)
            return None
        if until <= watermark:
            return 0
        went_dead = deliveries_went_dead_count(after=watermark, until=until)
        OUTBOX_WENT_DEAD.inc(went_dead)
        cache_set(WENT_DEAD_WATERMARK_KEY, until, 30 * 24 * 3600)
        return went_dead
    finally:
        cache_delete(WENT_DEAD_LOCK_KEY)


def jobs() -> list[PeriodicJob]:
    return [
        # Every 15 s so that no minute is skipped; each minute is evaluated once across relays.
        PeriodicJob("alerts", ALERTS_CHECK_INTERVAL_SECONDS, alerts_check),
        # Cheap and database-free: /health and the Prometheus rules see a dead relay.
        PeriodicJob("relay_heartbeat", RELAY_HEARTBEAT_INTERVAL_SECONDS, relay_heartbeat),
        PeriodicJob("outbox_went_dead", WENT_DEAD_INTERVAL_SECONDS, outbox_went_dead_count),
        # The admin's operations panel reads its per-minute figures (platform_ops.rollups).
        PeriodicJob("outbox_rollup", 15, outbox_rollup),
    ]
