"""The outbox's periodic jobs: lease recovery, gauges, retention (see :mod:`core.jobs`)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from core.jobs import PeriodicJob
from outbox.models import Attempt, Delivery, DeliveryStatus, OutboxEvent
from outbox.relay import leases_recover
from outbox.selectors import GAUGES_CACHE_KEY, outbox_gauges_read

logger = logging.getLogger(__name__)

#: Rows deleted per statement by the retention purge (short transactions, no long locks).
PURGE_CHUNK = 1000


def retention_purge(*, older_than: timedelta | None = None, max_rows: int = 50_000) -> int:
    """Delete delivered deliveries (with their attempts) and finished events past retention."""
    cutoff = timezone.now() - (older_than or timedelta(days=settings.OUTBOX_RETENTION_DAYS))
    removed = 0
    while removed < max_rows:
        ids = list(
            Delivery.objects.filter(status=DeliveryStatus.DELIVERED, updated_at__lt=cutoff)
            .order_by("id")
            .values_list("id", flat=True)[:PURGE_CHUNK]
        )
        if not ids:
            break
        Attempt.objects.filter(delivery_id__in=ids)._raw_delete(Attempt.objects.db)
        Delivery.objects.filter(id__in=ids)._raw_delete(Delivery.objects.db)
        removed += len(ids)
    while True:
        event_ids = list(
            OutboxEvent.objects.filter(created_at__lt=cutoff, deliveries__isnull=True)
            .order_by("id")
            .values_list("id", flat=True)[:PURGE_CHUNK]
        )
        if not event_ids:
            break
        OutboxEvent.objects.filter(id__in=event_ids)._raw_delete(OutboxEvent.objects.db)
    Attempt.objects.filter(started_at__lt=cutoff)._raw_delete(Attempt.objects.db)
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
        PeriodicJob("retention", 3600, retention_purge),
    ]
