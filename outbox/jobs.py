"""The outbox's periodic jobs: lease recovery, gauges, retention (see :mod:`core.jobs`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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

#: Rows deleted per chunk by the retention purge (each chunk its own short transaction: row
#: locks on a few thousand rows for milliseconds, never a table lock).
PURGE_CHUNK = 5000
#: Seconds one run of the purge may take; the periodic job then yields to the relay's other jobs
#: and goes on at its next run, five minutes later (rates measured by bench/bench_history.py are
#: in the README: a run purges far more than five minutes of a busy host's deliveries).
PURGE_BUDGET_SECONDS = 20.0

# A chunk of old delivered deliveries, locked (SKIP LOCKED, so a replay that holds a row keeps
# it; FOR UPDATE re-checks the status of a row a replay just changed) and deleted with their
# attempts. It walks the (status, updated_at) index in its order: finding a chunk costs the same
# at 5M rows as at 5,000 (ORDER BY id sorted every match). The events they leave without any
# delivery go in the same transaction, by a parameter array the planner sizes right (as a CTE
# it was estimated at 200 rows and hashed the whole deliveries table: 10 s per chunk at 5M).
_PURGE_DELIVERED = """
WITH doomed AS (
    SELECT id FROM {delivery}
    WHERE status = %(delivered)s AND updated_at < %(cutoff)s
    ORDER BY updated_at LIMIT %(chunk)s
    FOR UPDATE SKIP LOCKED
), attempts AS (
    DELETE FROM {attempt} WHERE delivery_id IN (SELECT id FROM doomed)
)
DELETE FROM {delivery} WHERE id IN (SELECT id FROM doomed) RETURNING event_id
"""
_PURGE_EVENTS_LEFT = """
DELETE FROM {event} e
WHERE e.id = ANY(%(events)s) AND NOT EXISTS (SELECT 1 FROM {delivery} d WHERE d.event_id = e.id)
"""
# Events past retention without a delivery (a merchant without endpoints or linked chats):
# walked by (created_at, id) from where the previous chunk stopped, so the events kept for their
# dead deliveries are read once per run, not once per chunk.
_OLD_EVENTS = """
SELECT id, created_at FROM {event}
WHERE created_at < %(cutoff)s AND (created_at, id) > (%(after_at)s, %(after_id)s)
ORDER BY created_at, id LIMIT %(chunk)s
"""
_EVENTS_WITH_DELIVERIES = (
    "SELECT DISTINCT event_id FROM {delivery} WHERE event_id = ANY(%(events)s)"
)
_DELETE_EVENTS = "DELETE FROM {event} WHERE id = ANY(%(events)s)"
# Attempts past retention of deliveries that are kept (dead ones stay for replay).
_PURGE_OLD_ATTEMPTS = """
DELETE FROM {attempt} WHERE id IN (
    SELECT id FROM {attempt} WHERE started_at < %(cutoff)s ORDER BY started_at LIMIT %(chunk)s)
"""


def _sql(template: str) -> str:
    tables = {
        "delivery": Delivery._meta.db_table,
        "attempt": Attempt._meta.db_table,
        "event": OutboxEvent._meta.db_table,
    }
    return template.format(**{name: connection.ops.quote_name(t) for name, t in tables.items()})


def _delivered_chunk(cursor: Any, params: dict[str, Any]) -> tuple[int, int]:
    cursor.execute(_sql(_PURGE_DELIVERED), params)
    rows = cursor.fetchall()
    events = sorted({event_id for (event_id,) in rows})
    if events:
        cursor.execute(_sql(_PURGE_EVENTS_LEFT), {"events": events})
    return len(rows), len(rows)


def _orphan_events_chunk(cursor: Any, params: dict[str, Any]) -> tuple[int, int]:
    cursor.execute(_sql(_OLD_EVENTS), params)
    rows = cursor.fetchall()
    if not rows:
        return 0, 0
    params["after_id"], params["after_at"] = rows[-1]
    ids = [event_id for event_id, _ in rows]
    cursor.execute(_sql(_EVENTS_WITH_DELIVERIES), {"events": ids})
    kept = {event_id for (event_id,) in cursor.fetchall()}
    doomed = [event_id for event_id in ids if event_id not in kept]
    if doomed:
        cursor.execute(_sql(_DELETE_EVENTS), {"events": doomed})
    return len(rows), len(doomed)


def _attempts_chunk(cursor: Any, params: dict[str, Any]) -> tuple[int, int]:
    cursor.execute(_sql(_PURGE_OLD_ATTEMPTS), params)
    return cursor.rowcount, cursor.rowcount


def _purge(
    chunk: Callable[[Any, dict[str, Any]], tuple[int, int]],
    params: dict[str, Any],
    deadline: float,
) -> tuple[int, bool]:
    """Run ``chunk`` (each in its own transaction) until a chunk comes back short or the deadline
    passes; a chunk answers (rows it looked at, rows it deleted). Answers (deleted, finished)."""
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            seen, gone = chunk(cursor, params)
        deleted += gone
        if seen < PURGE_CHUNK:
            return deleted, True
        if time.monotonic() >= deadline:
            return deleted, False


def retention_purge(
    *, older_than: timedelta | None = None, budget_seconds: float = PURGE_BUDGET_SECONDS
) -> int:
    """Delete delivered deliveries past retention with their attempts and the events they leave
    without a delivery, then old events that never had one and old attempts of kept (dead)
    deliveries; answers the number of deliveries deleted. Stops after ``budget_seconds``; the
    next run goes on where it stopped.

    PostgreSQL only (``DELETE ... RETURNING`` in a CTE, ``= ANY``): on the SQLite of
    ``make run``, a demo that keeps a few rows, it deletes nothing and answers 0."""
    if connection.vendor != "postgresql":
        return 0
    cutoff = timezone.now() - (older_than or timedelta(days=settings.OUTBOX_RETENTION_DAYS))
    params: dict[str, Any] = {
        "cutoff": cutoff,
        "chunk": PURGE_CHUNK,
        "delivered": DeliveryStatus.DELIVERED,
        "after_at": datetime.min.replace(tzinfo=UTC),
        "after_id": 0,
    }
    deadline = time.monotonic() + budget_seconds
    removed, finished = _purge(_delivered_chunk, params, deadline)
    for chunk in (_orphan_events_chunk, _attempts_chunk):
        if not finished:
            break
        finished = _purge(chunk, params, deadline)[1]
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
