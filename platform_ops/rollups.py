"""Per-minute outbox figures for the admin's operations panel, kept in the shared cache.

:func:`outbox_rollup` runs in the relay every 15 s (``platform_ops.jobs``). Each run re-counts
the current and the previous minute (attempts by result, from ``attempt_started_idx``: a range
of two minutes, not a table scan) and stores, for the current minute, the backlog per channel
as it is now (the partial indexes on pending and leased rows, the status index for dead) and the
oldest pending delivery. One cache entry per minute (Redis when ``REDIS_URL`` is set), kept
48 h. Several relays may run it at once: each writes the same figures.

Why the cache and not a table: the figures are a dashboard's, recomputed every 15 s, and losing
them (a Redis flush) costs only the charts' history; a table would need a migration in
``platform_ops``, whose migration history the schema-gate tests pin. The per-minute rows are
exactly what a table would hold (:class:`Minute`).

:func:`operations_panel` is what the admin index reads: the last 24 h of these entries (one
``get_many``) and the pauses in force; no count over the delivery tables per page view.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict, cast

from django.core.cache import cache
from django.db.models import Count, Min, Q
from django.utils import timezone

from outbox.models import Attempt, Channel, Delivery, DeliveryStatus
from outbox.selectors import pauses_active_rows
from platform_ops.selectors import site_modes_current

logger = logging.getLogger(__name__)

KEEP = timedelta(hours=48)
WINDOW = timedelta(hours=24)
#: The panel says the figures are stale when the newest rollup is older than this.
STALE_AFTER = timedelta(minutes=2)
KEY_PREFIX = "ops:outbox-minute:"


class Minute(TypedDict):
    """One minute of outbox figures.

    ``delivered`` / ``failed`` / ``errors``: attempts started in that minute that answered 2xx,
    answered another status, or got no answer (timeout, connection error). ``backlog``: per
    channel, pending, in flight (leased) and dead when the minute was last rolled up.
    """

    minute: float
    delivered: int
    failed: int
    errors: int
    backlog: dict[str, dict[str, int]]
    oldest_pending_at: float | None
    updated_at: float


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def minute_key(minute: datetime) -> str:
    return f"{KEY_PREFIX}{int(minute.timestamp()) // 60}"


def _attempts(start: datetime) -> dict[str, int]:
    counts = Attempt.objects.filter(
        started_at__gte=start, started_at__lt=start + timedelta(minutes=1)
    ).aggregate(
        delivered=Count("id", filter=Q(status_code__gte=200, status_code__lt=300)),
        failed=Count("id", filter=Q(status_code__isnull=False) & ~Q(status_code__range=(200, 299))),
        errors=Count("id", filter=Q(status_code__isnull=True)),
    )
    return {name: int(value or 0) for name, value in counts.items()}


def _backlog() -> tuple[dict[str, dict[str, int]], datetime | None]:
    backlog = {channel: {"pending": 0, "leased": 0, "dead": 0} for channel in Channel.values}
    rows = (
        Delivery.objects.filter(
            status__in=[DeliveryStatus.PENDING, DeliveryStatus.LEASED, DeliveryStatus.DEAD]
        )
        .values_list("channel", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for channel, status, n in rows:
        backlog.setdefault(channel, {"pending": 0, "leased": 0, "dead": 0})[status] = n
    oldest = Delivery.objects.filter(status=DeliveryStatus.PENDING).aggregate(
        oldest=Min("created_at")
    )["oldest"]
    return backlog, oldest


def outbox_rollup(*, now: datetime | None = None) -> int:
    """Store the previous and the current minute; returns the number of entries written."""
    now = now or timezone.now()
    current = _minute(now)
    previous = current - timedelta(minutes=1)
    backlog, oldest = _backlog()
    try:
        kept = cache.get(minute_key(previous))
    except Exception as exc:  # Redis away: the panel says so; delivery goes on
        logger.warning("outbox rollup: cache away", extra={"error": exc.__class__.__name__})
        return 0
    entries: dict[str, Minute] = {}
    for minute in (previous, current):
        # A finished minute keeps the backlog it had while it was current.
        if minute == previous and isinstance(kept, dict):
            state, oldest_at = kept["backlog"], kept["oldest_pending_at"]
        else:
            state, oldest_at = backlog, oldest.timestamp() if oldest else None
        entries[minute_key(minute)] = Minute(
            minute=minute.timestamp(),
            **_attempts(minute),  # type: ignore[typeddict-item]
            backlog=state,
            oldest_pending_at=oldest_at,
            updated_at=now.timestamp(),
        )
    try:
        cache.set_many(entries, timeout=int(KEEP.total_seconds()))
    except Exception as exc:
        logger.warning("outbox rollup: cache away", extra={"error": exc.__class__.__name__})
        return 0
    return len(entries)


def minutes_read(*, now: datetime | None = None) -> list[Minute]:
    """The last 24 h of rolled-up minutes, oldest first (missing minutes are left out)."""
    now = now or timezone.now()
    last = _minute(now)
    count = int(WINDOW / timedelta(minutes=1))
    keys = [minute_key(last - timedelta(minutes=n)) for n in range(count)]
    try:
        found = cache.get_many(keys)
    except Exception as exc:
        logger.warning("operations panel: cache away", extra={"error": exc.__class__.__name__})
        return []
    rows: list[Minute] = [cast(Minute, m) for m in found.values() if isinstance(m, dict)]
    return sorted(rows, key=lambda m: m["minute"])


def operations_panel(*, now: datetime | None = None) -> dict[str, Any]:
    """What the admin index shows: latest backlog per channel, oldest pending age, 24 h series
    (deliveries per minute by result, backlog), pauses in force, site modes."""
    now = now or timezone.now()
    rows = minutes_read(now=now)
    latest = rows[-1] if rows else None
    channels = []
    for channel in Channel.values:
        figures = (latest["backlog"].get(channel) if latest else None) or {}
        channels.append(
            {
                "channel": channel,
                "pending": figures.get("pending", 0),
                "leased": figures.get("leased", 0),
                "dead": figures.get("dead", 0),
            }
        )
    oldest_age = None
    if latest is not None and latest["oldest_pending_at"] is not None:
        oldest_age = max(int(now.timestamp() - latest["oldest_pending_at"]), 0)
    updated_at = datetime.fromtimestamp(latest["updated_at"], tz=UTC) if latest else None

    def total(row: Minute, key: str) -> int:
        return sum(c.get(key, 0) for c in row["backlog"].values())

    series = {
        "t": [int(r["minute"]) for r in rows],
        "delivered": [r["delivered"] for r in rows],
        "failed": [r["failed"] for r in rows],
        "errors": [r["errors"] for r in rows],
        "pending": [total(r, "pending") for r in rows],
        "leased": [total(r, "leased") for r in rows],
        "dead": [total(r, "dead") for r in rows],
    }
    return {
        "channels": channels,
        "oldest_pending_seconds": oldest_age,
        "updated_at": updated_at,
        "stale": updated_at is None or now - updated_at > STALE_AFTER,
        "series": series,
        "pauses": pauses_active_rows(),
        "modes": site_modes_current(),
    }
