"""The portal's reads: every list is keyset-paginated on an indexed column and scoped to the
signed-in member of staff's merchant."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db.models import Count, F, Model, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate, TruncHour
from django.utils import timezone

from loyalty.models import Purchase
from outbox.models import Attempt, Delivery, DeliveryStatus, WebhookEndpoint
from portal.models import AuditEntry, StaffUser

M = TypeVar("M", bound=Model)

#: Rows per page of every portal list.
PAGE_SIZE = 50


def page_after(
    rows: QuerySet[M], *, cursor: Any, key: str = "id", size: int = PAGE_SIZE
) -> tuple[list[M], Any]:
    """One page of ``rows`` ordered by ``-key``, after ``cursor`` (the last key seen)."""
    if cursor not in (None, ""):
        rows = rows.filter(**{f"{key}__lt": cursor})
    page = list(rows.order_by(f"-{key}")[: size + 1])
    more = len(page) > size
    page = page[:size]
    return page, (getattr(page[-1], key) if more and page else None)


def staff_list(*, merchant_id: Any) -> QuerySet[StaffUser]:
    return StaffUser.objects.filter(merchant_id=merchant_id).order_by("email")


def audit_list(*, merchant_id: Any) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(merchant_id=merchant_id)


# --- dashboard -------------------------------------------------------------------------------

#: The dashboard's windows: since midnight (the site's time zone), the last 7 and 30 days.
WINDOWS = (("today", 0), ("7d", 7), ("30d", 30))


def _window_start(days: int, now: datetime) -> datetime:
    if days == 0:
        local = timezone.localtime(now)
        return local.replace(hour=0, minute=0, second=0, microsecond=0)
    return now - timedelta(days=days)


def dashboard_figures(*, merchant_id: Any, now: datetime | None = None) -> dict[str, Any]:
    """Purchases, revenue, points earned/redeemed and active customers per window, and a daily
    series of the last 30 days.

    Every figure is a range scan of ``portal_purchase_recent_idx`` (merchant, created_at).
    Revenue is the money of the purchases less what was refunded of them.
    """
    now = now or timezone.now()
    purchases = Purchase.objects.filter(merchant_id=merchant_id)
    windows: dict[str, Any] = {}
    for name, days in WINDOWS:
        row = purchases.filter(created_at__gte=_window_start(days, now)).aggregate(
            purchases=Count("id"),
            revenue_minor=Coalesce(Sum(F("amount_minor") - F("refunded_minor")), 0),
            points_earned=Coalesce(Sum("earned_points"), 0),
            points_redeemed=Coalesce(Sum("redeemed_points"), 0),
            active_customers=Count("customer_id", distinct=True),
        )
        windows[name] = row
    first_day = timezone.localdate(now) - timedelta(days=29)
    daily = {
        row["day"]: row
        for row in purchases.filter(
            created_at__gte=_window_start(29, now).replace(
                hour=0, minute=0, second=0, microsecond=0
            )
        )
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            purchases=Count("id"),
            revenue_minor=Coalesce(Sum(F("amount_minor") - F("refunded_minor")), 0),
            points_earned=Coalesce(Sum("earned_points"), 0),
            points_redeemed=Coalesce(Sum("redeemed_points"), 0),
        )
    }
    series = []
    for offset in range(30):
        day = first_day + timedelta(days=offset)
        row = daily.get(day, {})
        series.append(
            {
                "day": day.isoformat(),
                "purchases": row.get("purchases", 0),
                "revenue_minor": row.get("revenue_minor", 0),
                "points_earned": row.get("points_earned", 0),
                "points_redeemed": row.get("points_redeemed", 0),
            }
        )
    return {"windows": windows, "daily": series}


def _p95(values: list[int]) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


#: At most this many of an endpoint's latest attempts feed its p95 (bounded memory).
P95_SAMPLE = 5000


def delivery_health(*, merchant_id: Any, now: datetime | None = None) -> dict[str, Any]:
    """Per webhook endpoint over the last 24 h: success rate, p95 latency, dead count, circuit
    state, disabled reason; and hourly delivered/failed attempts for the chart."""
    now = now or timezone.now()
    since = now - timedelta(hours=24)
    endpoints = list(WebhookEndpoint.objects.filter(merchant_id=merchant_id).order_by("created_at"))
    attempts = Attempt.objects.filter(
        delivery__merchant_id=merchant_id, started_at__gte=since, delivery__endpoint__isnull=False
    )
    ok = Q(status_code__gte=200, status_code__lt=300)
    per_endpoint = {
        row["delivery__endpoint_id"]: row
        for row in attempts.values("delivery__endpoint_id").annotate(
            total=Count("id"), ok=Count("id", filter=ok)
        )
    }
    dead = dict(
        Delivery.objects.filter(
            merchant_id=merchant_id, status=DeliveryStatus.DEAD, endpoint__isnull=False
        )
        .values_list("endpoint_id")
        .annotate(n=Count("id"))
    )
    out = []
    for endpoint in endpoints:
        row = per_endpoint.get(endpoint.id, {"total": 0, "ok": 0})
        durations = list(
            attempts.filter(delivery__endpoint_id=endpoint.id)
            .order_by("-started_at")
            .values_list("duration_ms", flat=True)[:P95_SAMPLE]
        )
        if endpoint.circuit_open_until and endpoint.circuit_open_until > now:
            circuit = "open"
        elif endpoint.circuit_open_until:
            circuit = "half-open"
        else:
            circuit = "closed"
        out.append(
            {
                "id": str(endpoint.id),
                "url": endpoint.url,
                "enabled": endpoint.is_enabled,
                "disabled_reason": endpoint.disabled_reason,
                "attempts_24h": row["total"],
                "success_rate": (row["ok"] / row["total"]) if row["total"] else None,
                "p95_ms": _p95(durations),
                "dead": dead.get(endpoint.id, 0),
                "circuit": circuit,
                "consecutive_failures": endpoint.consecutive_failures,
            }
        )
    hourly = {
        row["hour"]: row
        for row in attempts.annotate(hour=TruncHour("started_at"))
        .values("hour")
        .annotate(ok=Count("id", filter=ok), failed=Count("id", filter=~ok))
    }
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    hours = []
    for offset in range(24):
        hour = start + timedelta(hours=offset)
        row = hourly.get(hour, {})
        hours.append(
            {"hour": hour.isoformat(), "ok": row.get("ok", 0), "failed": row.get("failed", 0)}
        )
    return {"endpoints": out, "hourly": hours}
