"""Outbox reads: active pauses, the delivery sets operators act on, and the outbox figures
(gauges computed by the relay, counts for the admin and the alerts)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, QuerySet
from django.db.models.fields.json import KT
from django.utils import timezone

from core.cache import cache_get
from outbox.models import Delivery, DeliveryStatus, OutboxEvent, OutboxPause, PauseScope

#: Cache key holding the outbox gauges computed by the relay and read by /metrics and the admin.
GAUGES_CACHE_KEY = "outbox:gauges"


@dataclass(frozen=True)
class ActivePauses:
    """Every pause in force, loaded in one query."""

    is_global: bool = False
    merchants: frozenset[Any] = field(default_factory=frozenset)
    endpoints: frozenset[Any] = field(default_factory=frozenset)
    channels: frozenset[str] = field(default_factory=frozenset)

    def holds(self, delivery: Delivery) -> bool:
        return (
            self.is_global
            or delivery.merchant_id in self.merchants
            or (delivery.endpoint_id is not None and delivery.endpoint_id in self.endpoints)
            or delivery.channel in self.channels
        )


def pauses_active() -> ActivePauses:
    rows = list(
        OutboxPause.objects.filter(resumed_at=None).values_list(
            "scope", "merchant_id", "endpoint_id", "channel"
        )
    )
    return ActivePauses(
        is_global=any(scope == PauseScope.GLOBAL for scope, *_ in rows),
        merchants=frozenset(m for scope, m, _, _ in rows if scope == PauseScope.MERCHANT),
        endpoints=frozenset(e for scope, _, e, _ in rows if scope == PauseScope.ENDPOINT),
        channels=frozenset(c for scope, _, _, c in rows if scope == PauseScope.CHANNEL),
    )


def delivery_next_due_at(*, now: datetime) -> datetime | None:
    """When the earliest pending delivery that is not due yet comes due (a retry, a
    ``Retry-After``): the relay sleeps until then rather than a whole poll. Rows already due but
    waiting (an earlier delivery of their stream is open, a pause, a circuit) are not counted:
    their release wakes the relay by NOTIFY. One step on the partial index of pending rows."""
    return (
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__gt=now)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )


def deliveries_filter(
    *,
    status: str | None = None,
    merchant_id: Any = None,
    event_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
    endpoint_id: Any = None,
) -> QuerySet[Delivery]:
    qs = Delivery.objects.all()
    if status:
        qs = qs.filter(status=status)
    if merchant_id:
        qs = qs.filter(merchant_id=merchant_id)
    if event_type:
        qs = qs.filter(event__event_type=event_type)
    if since:
        qs = qs.filter(created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)
    if channel:
        qs = qs.filter(channel=channel)
    if endpoint_id:
        qs = qs.filter(endpoint_id=endpoint_id)
    return qs.order_by("id")


def outbox_gauges_read() -> dict[str, object]:
    """Pending by channel (index-only on the partial index), leased, dead and due counts."""
    pending = dict(
        Delivery.objects.filter(status=DeliveryStatus.PENDING)
        .values_list("channel")
        .annotate(n=Count("id"))
        .values_list("channel", "n")
    )
    now = timezone.now()
    return {
        "pending": {"webhook": pending.get("webhook", 0), "telegram": pending.get("telegram", 0)},
        "leased": Delivery.objects.filter(status=DeliveryStatus.LEASED).count(),
        "dead": Delivery.objects.filter(status=DeliveryStatus.DEAD).count(),
        "due": Delivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        ).count(),
        "computed_at": now.timestamp(),
    }


def outbox_gauges_cached() -> dict[str, Any] | None:
    """The outbox gauges the relay stores every few seconds (``outbox.jobs.gauges_compute``), or
    None when they are unknown (relay not running for minutes, or the cache is away)."""
    gauges = cache_get(GAUGES_CACHE_KEY)
    return gauges if isinstance(gauges, dict) else None


def outbox_dead_count() -> int:
    """Dead deliveries now; an index-only count, fine once a minute (not per scrape)."""
    return Delivery.objects.filter(status=DeliveryStatus.DEAD).count()


def outbox_counts() -> dict[str, Any]:
    """Pending (by channel) and dead counts for the admin: the relay's cached gauges when fresh,
    else a direct count (the admin is used by a few people, not scraped)."""
    gauges = outbox_gauges_cached()
    if gauges is not None:
        return {
            "pending": sum(gauges.get("pending", {}).values()),
            "pending_by_channel": gauges.get("pending", {}),
            "dead": gauges.get("dead", 0),
            "age_seconds": max(time.time() - float(gauges.get("computed_at", 0)), 0.0),
        }
    pending = dict(
        Delivery.objects.filter(status=DeliveryStatus.PENDING)
        .values_list("channel")
        .annotate(n=Count("id"))
        .values_list("channel", "n")
    )
    return {
        "pending": sum(pending.values()),
        "pending_by_channel": pending,
        "dead": outbox_dead_count(),
        "age_seconds": 0.0,
    }


def deliveries_status_counts(deliveries: QuerySet[Delivery]) -> dict[str, int]:
    """How many of ``deliveries`` are in each status (for the admin's confirmation pages)."""
    rows = deliveries.order_by().values_list("status").annotate(n=Count("id"))
    return {status: n for status, n in rows}


def pauses_active_rows() -> list[OutboxPause]:
    """Pauses in force with their merchant/endpoint, newest first (the admin's panel)."""
    return list(
        OutboxPause.objects.filter(resumed_at=None)
        .select_related("merchant", "endpoint")
        .order_by("-created_at")
    )


def deliveries_went_dead_count(*, after: datetime, until: datetime) -> int:
    """Deliveries that are dead and went dead in ``(after, until]`` (every change to dead sets
    ``updated_at``; a replayed row is pending again and no longer counts)."""
    return Delivery.objects.filter(
        status=DeliveryStatus.DEAD, updated_at__gt=after, updated_at__lte=until
    ).count()


def webhook_deliveries_about(
    *, merchant_id: Any, customer_id: Any = None, order_id: str = ""
) -> QuerySet[Delivery]:
    """The merchant's webhook deliveries whose event concerns one customer or one order.

    Selected through the event, where both facts are kept once (indexes
    ``event_merchant_customer_idx`` and ``event_merchant_order_idx``).
    """
    events = OutboxEvent.objects.filter(merchant_id=merchant_id)
    if customer_id is not None:
        events = events.filter(customer_id=customer_id)
    else:
        events = events.alias(order_id=KT("payload__data__order_id")).filter(order_id=order_id)
    return Delivery.objects.filter(
        merchant_id=merchant_id, channel="webhook", event_id__in=events.values("id")
    )


def deliveries_progress(deliveries: QuerySet[Delivery]) -> dict[str, int]:
    """How many of ``deliveries`` are in each state, with ``pending`` counting in-flight too:
    the progress of a replay while the engine works through it."""
    counts = dict(deliveries.values_list("status").annotate(n=Count("id")).order_by())
    waiting = counts.get(DeliveryStatus.PENDING, 0) + counts.get(DeliveryStatus.LEASED, 0)
    return {
        "total": sum(counts.values()),
        "pending": waiting,
        "delivered": counts.get(DeliveryStatus.DELIVERED, 0),
        "dead": counts.get(DeliveryStatus.DEAD, 0),
        "cancelled": counts.get(DeliveryStatus.CANCELLED, 0),
    }
