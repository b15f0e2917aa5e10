"""Outbox reads: active pauses and the delivery sets operators act on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from outbox.models import Delivery, OutboxPause, PauseScope


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
