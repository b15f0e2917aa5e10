"""Periodic jobs hosted by the relay: lease recovery, retention, gauges, points expiry."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone

from outbox.models import Attempt, Delivery, DeliveryStatus, OutboxEvent
from outbox.relay import PeriodicJob, leases_recover

logger = logging.getLogger(__name__)

#: Rows deleted per statement by the retention purge (short transactions, no long locks).
PURGE_CHUNK = 1000
#: Cache key holding the outbox gauges computed by the relay and read by /metrics.
GAUGES_CACHE_KEY = "outbox:gauges"


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
    """Pending by channel (index-only on the partial index), dead and leased counts."""
    pending = dict(
        Delivery.objects.filter(status=DeliveryStatus.PENDING)
        .values_list("channel")
        .annotate(n=Count("id"))
        .values_list("channel", "n")
    )
    leased = Delivery.objects.filter(status=DeliveryStatus.LEASED).count()
    dead = Delivery.objects.filter(status=DeliveryStatus.DEAD).count()
    due = Delivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now()
    ).count()
    gauges = {
        "pending": {"webhook": pending.get("webhook", 0), "telegram": pending.get("telegram", 0)},
        "leased": leased,
        "dead": dead,
        "due": due,
        "computed_at": timezone.now().timestamp(),
    }
    try:
        cache.set(GAUGES_CACHE_KEY, gauges, timeout=300)
    except Exception as exc:  # Redis away: gauges go stale, delivery goes on
        logger.warning("could not store outbox gauges", extra={"error": exc.__class__.__name__})
    return gauges


def points_jobs() -> None:
    from loyalty.services import points_credit_matured, points_expire_due, points_expiry_remind

    points_credit_matured()
    points_expire_due()
    points_expiry_remind()


def default_jobs() -> list[PeriodicJob]:
    """Every periodic job of the platform; the relay runs them (any number of relays may)."""
    from integrations.services import idempotency_purge
    from notifications.jobs import inbound_jobs
    from platform_ops.alerts import alerts_check

    return [
        PeriodicJob("lease_recovery", 5, leases_recover),
        PeriodicJob("gauges", 10, gauges_compute),
        # Every 15 s so that no minute is skipped; each minute is evaluated once across relays.
        PeriodicJob("alerts", 15, alerts_check),
        PeriodicJob("points", 300, points_jobs),
        PeriodicJob("retention", 3600, retention_purge),
        PeriodicJob("idempotency_purge", 3600, idempotency_purge),
        *inbound_jobs(),
    ]
