"""The outbox's periodic jobs: lease recovery, gauges, retention (see :mod:`core.jobs`)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from core.jobs import PeriodicJob
from outbox.models import Attempt, Delivery, DeliveryStatus, OutboxEvent
from outbox.relay import leases_recover
from outbox.selectors import GAUGES_CACHE_KEY, outbox_gauges_read

logger = logging.getLogger(__name__)

#: Deliveries deleted per statement by the retention purge (each statement its own short
#: transaction: row locks on a few thousand rows for milliseconds, never a table lock).
PURGE_CHUNK = 5000
#: Seconds one run of the purge may take; the periodic job then yields to the relay's other jobs
#: and goes on at its next run (bench/bench_history.py: ~2,000 rows/s on a shared 2-core machine,
#: so a 20 s run every 5 minutes keeps up with ~130 events/s sustained, far above one host's load).
PURGE_BUDGET_SECONDS = 20.0

# One statement per chunk: lock a chunk of old delivered deliveries (SKIP LOCKED, so a replay
# that holds a row keeps it; FOR UPDATE re-checks the status of a row a replay just changed),
# delete their attempts, the deliveries, and the events left without any delivery. The chunk
# walks the (status, updated_at) index in its order, so finding a chunk costs the same at 5M
# rows as at 5,000 (an ORDER BY id sorted every match: quadratic in the backlog).
_PURGE_DELIVERED = """
WITH doomed AS (
    SELECT id, event_id FROM {delivery}
    WHERE status = %(delivered)s AND updated_at < %(cutoff)s
    ORDER BY updated_at LIMIT %(chunk)s
    FOR UPDATE SKIP LOCKED
), attempts AS (
    DELETE FROM {attempt} WHERE delivery_id IN (SELECT id FROM doomed) RETURNING 1
), deliveries AS (
    DELETE FROM {delivery} WHERE id IN (SELECT id FROM doomed) RETURNING event_id
), events AS (
    DELETE FROM {event} e
    WHERE e.id IN (SELECT event_id FROM deliveries)
      AND NOT EXISTS (
          SELECT 1 FROM {delivery} d
          WHERE d.event_id = e.id AND d.id NOT IN (SELECT id FROM doomed))
    RETURNING 1
)
SELECT (SELECT count(*) FROM deliveries)
"""
# Events past retention that never had a delivery (a merchant without endpoints or links).
_PURGE_ORPHAN_EVENTS = """
DELETE FROM {event} WHERE id IN (
    SELECT e.id FROM {event} e
    WHERE e.created_at < %(cutoff)s
      AND NOT EXISTS (SELECT 1 FROM {delivery} d WHERE d.event_id = e.id)
    ORDER BY e.created_at LIMIT %(chunk)s)
"""
# Attempts past retention of deliveries that are kept (dead ones stay for replay).
_PURGE_OLD_ATTEMPTS = """
DELETE FROM {attempt} WHERE id IN (
    SELECT id FROM {attempt} WHERE started_at < %(cutoff)s ORDER BY started_at LIMIT %(chunk)s)
"""


def _purge_chunks(sql: str, params: dict[str, Any], deadline: float) -> tuple[int, bool]:
    """Run one chunked DELETE until it finds nothing or the deadline passes: (rows, finished)."""
    tables = {
        "delivery": Delivery._meta.db_table,
        "attempt": Attempt._meta.db_table,
        "event": OutboxEvent._meta.db_table,
    }
    statement = sql.format(**{name: connection.ops.quote_name(t) for name, t in tables.items()})
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, params)
            row = cursor.fetchone() if cursor.description else None
            removed = int(row[0]) if row else cursor.rowcount
        total += removed
        if removed < PURGE_CHUNK:
            return total, True
        if time.monotonic() >= deadline:
            return total, False


def retention_purge(
    *, older_than: timedelta | None = None, budget_seconds: float = PURGE_BUDGET_SECONDS
) -> int:
    """Delete delivered deliveries past retention with their attempts and events, then events
    that never had a delivery and old attempts of kept (dead) deliveries; answers the number of
    deliveries deleted. Stops after ``budget_seconds``; the next run goes on where it stopped."""
    cutoff = timezone.now() - (older_than or timedelta(days=settings.OUTBOX_RETENTION_DAYS))
    params: dict[str, Any] = {
        "cutoff": cutoff,
        "chunk": PURGE_CHUNK,
        "delivered": DeliveryStatus.DELIVERED,
    }
    deadline = time.monotonic() + budget_seconds
    removed, finished = _purge_chunks(_PURGE_DELIVERED, params, deadline)
    if finished:
        for sql in (_PURGE_ORPHAN_EVENTS, _PURGE_OLD_ATTEMPTS):
            if not _purge_chunks(sql, params, deadline)[1]:
                break
    if removed:
        logger.info("outbox retention purge", extra={"deliveries": removed})
    return removed


def gauges_compute() -> dict[str, object]:
    """Read the outbox gauges and store them for /metrics and the admin (a scrape never counts
    tables); the figures are returned even when the cache is away."""
    gauges = outbox_gauges_read()
    try:
        cache.set(GAUGES_CACHE_KEY, gauges, timeout=300)
    except Exception as exc:  # Redis away: gauges go stale, delivery goes on
        logger.warning("could not store outbox gauges", extra={"error": exc.__class__.__name__})
    return gauges


def jobs() -> list[PeriodicJob]:
    """The outbox's periodic jobs (``PERIODIC_JOBS`` in settings lists this function)."""
    return [
        PeriodicJob("lease_recovery", 5, leases_recover),
        PeriodicJob("gauges", 10, gauges_compute),
        PeriodicJob("retention", 300, retention_purge),
    ]
