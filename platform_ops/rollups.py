"""Per-minute outbox figures for the admin's operations panel (:class:`OutboxMinute`).

:func:`outbox_rollup` runs in the relay every 15 s (``platform_ops.jobs``). Each run re-counts
the current and the previous minute (attempts by result, from ``attempt_started_idx``: a range
of two minutes, not a table scan) and stores the backlog per channel as it is now (the partial
indexes on pending and leased rows, the status index for dead). Several relays may run it at
once: each writes the same figures (an upsert on the unique minute). Rows older than 48 h are
deleted. :func:`operations_panel` is what the admin index reads: the last 24 h of these rows and
the pauses in force; no count over the delivery tables per page view.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Min, Q
from django.utils import timezone

from outbox.models import Attempt, Channel, Delivery, DeliveryStatus
from outbox.selectors import pauses_active_rows
from platform_ops.models import OutboxMinute
from platform_ops.selectors import site_modes_current

KEEP = timedelta(hours=48)
WINDOW = timedelta(hours=24)
#: The panel says the figures are stale when the newest rollup is older than this.
STALE_AFTER = timedelta(minutes=2)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


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
    )
    for channel, status, n in rows:
        key = "leased" if status == DeliveryStatus.LEASED else status
        backlog.setdefault(channel, {"pending": 0, "leased": 0, "dead": 0})[key] = n
    oldest = Delivery.objects.filter(status=DeliveryStatus.PENDING).aggregate(
        oldest=Min("created_at")
    )["oldest"]
    return backlog, oldest


def outbox_rollup(*, now: datetime | None = None) -> int:
    """Write the previous and the current minute; returns the number of rows written."""
    now = now or timezone.now()
    current = _minute(now)
    backlog, oldest = _backlog()
    written = 0
    for minute in (current - timedelta(minutes=1), current):
        defaults: dict[str, Any] = _attempts(minute)
        if minute == current or not OutboxMinute.objects.filter(minute=minute).exists():
            # The backlog of a finished minute stays what it was when that minute was current.
            defaults.update(backlog=backlog, oldest_pending_at=oldest)
        OutboxMinute.objects.update_or_create(minute=minute, defaults=defaults)
        written += 1
    OutboxMinute.objects.filter(minute__lt=current - KEEP).delete()
    return written


def operations_panel(*, now: datetime | None = None) -> dict[str, Any]:
    """What the admin index shows: latest backlog per channel, oldest pending age, 24 h series
    (deliveries per minute by result, backlog), pauses in force, site modes."""
    now = now or timezone.now()
    rows = list(
        OutboxMinute.objects.filter(minute__gte=_minute(now) - WINDOW).order_by("minute")
    )
    latest = rows[-1] if rows else None
    channels = []
    for channel in Channel.values:
        figures = (latest.backlog.get(channel) if latest else None) or {}
        channels.append(
            {
                "channel": channel,
                "pending": figures.get("pending", 0),
                "leased": figures.get("leased", 0),
                "dead": figures.get("dead", 0),
            }
        )
    oldest_age = None
    if latest is not None and latest.oldest_pending_at is not None:
        oldest_age = max(int((now - latest.oldest_pending_at).total_seconds()), 0)
    series = {
        "t": [int(r.minute.timestamp()) for r in rows],
        "delivered": [r.delivered for r in rows],
        "failed": [r.failed for r in rows],
        "errors": [r.errors for r in rows],
        "pending": [sum(c.get("pending", 0) for c in r.backlog.values()) for r in rows],
        "leased": [sum(c.get("leased", 0) for c in r.backlog.values()) for r in rows],
        "dead": [sum(c.get("dead", 0) for c in r.backlog.values()) for r in rows],
    }
    return {
        "channels": channels,
        "oldest_pending_seconds": oldest_age,
        "updated_at": latest.updated_at if latest else None,
        "stale": latest is None or now - latest.updated_at > STALE_AFTER,
        "series": series,
        "pauses": pauses_active_rows(),
        "modes": site_modes_current(),
    }
