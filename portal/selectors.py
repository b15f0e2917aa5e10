"""The portal's reads: every list is keyset-paginated on an indexed column and scoped to the
signed-in member of staff's merchant."""

from __future__ import annotations

import math
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from django.db.models import Count, F, Model, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate, TruncHour
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import NotFound, ValidationFailed
from loyalty.models import Customer, Outlet, PointsLot, Purchase, Refund
from loyalty.payloads import (
    customer_payload,
    ledger_entry_payload,
    purchase_payload,
    refund_payload,
)
from loyalty.phones import phone_normalize
from loyalty.selectors import ledger_list
from loyalty.services.places import PLACE_KINDS
from outbox.models import Attempt, Delivery, DeliveryStatus, OutboxPause, WebhookEndpoint
from outbox.transports.webhook import webhook_body, webhook_body_text
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


def place_list(*, merchant_id: Any, kind: str) -> list[dict[str, Any]]:
    """The merchant's outlets, devices or managers (active first, then by name)."""
    model = PLACE_KINDS[kind]
    fields = ["id", "name", "is_active"] + ([] if kind == "outlet" else ["outlet_id"])
    rows = model.objects.filter(merchant_id=merchant_id).order_by("-is_active", "name", "id")  # type: ignore[attr-defined]
    return [
        {k: (str(v) if k.endswith("id") and v is not None else v) for k, v in row.items()}
        for row in rows.values(*fields)[:1000]
    ]


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


# --- keyset pages by time ----------------------------------------------------------------------


def time_cursor_parse(raw: str | None) -> tuple[datetime, str] | None:
    """``<ISO time>|<id>`` as written by :func:`page_by_time`; raises on anything else."""
    if raw in (None, ""):
        return None
    assert raw is not None
    at, sep, ident = raw.partition("|")
    parsed = parse_datetime(at) if sep else None
    if parsed is None or not ident or len(raw) > 100:
        raise ValidationFailed(
            "cursor must be the `next` of a previous page.",
            errors={"cursor": ["Send the `next` value back unchanged."]},
        )
    return parsed, ident


def page_by_time(
    rows: QuerySet[M], *, cursor: tuple[datetime, str] | None, size: int = PAGE_SIZE
) -> tuple[list[M], str | None]:
    """Newest first by (created_at, id): a range scan of a (merchant, created_at) index."""
    if cursor is not None:
        at, ident = cursor
        rows = rows.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=ident))
    page = list(rows.order_by("-created_at", "-id")[: size + 1])
    more = len(page) > size
    page = page[:size]
    if not (more and page):
        return page, None
    last = page[-1]
    return page, f"{last.created_at.isoformat()}|{last.pk}"  # type: ignore[attr-defined]


# --- customers -------------------------------------------------------------------------------


def customer_search(*, merchant_id: Any, query: str = "") -> QuerySet[Customer]:
    """Customers by phone (a full number is normalised and found through the unique
    (merchant, phone) index; a fragment of digits matches inside numbers) or by name."""
    rows = Customer.objects.filter(merchant_id=merchant_id)
    query = query.strip()[:100]
    if not query:
        return rows
    digits = "".join(ch for ch in query if ch.isdigit())
    if digits and len(digits) >= len(query.replace(" ", "").replace("+", "").replace("-", "")):
        try:
            return rows.filter(phone=phone_normalize(query))
        except ValidationFailed:
            return rows.filter(phone__contains=digits)
    return rows.filter(name__icontains=query)


def customer_detail(*, merchant_id: Any, customer_id: Any) -> dict[str, Any]:
    """Everything the customer page shows: the customer, tier, open lots with their expiry,
    the latest ledger entries and purchases."""
    cid = _uuid(customer_id)
    customer = (
        Customer.objects.select_related("merchant").filter(merchant_id=merchant_id, id=cid).first()
        if cid
        else None
    )
    if customer is None:
        raise NotFound(f"No customer {customer_id} for this merchant.")
    lots = PointsLot.objects.filter(customer=customer, remaining__gt=0).order_by("expires_at", "id")
    return {
        "customer": customer_payload(customer),
        "telegram_status": customer.telegram_status,
        "lifetime_spend_minor": customer.lifetime_spend_minor,
        "lots": [
            {
                "points": lot.points,
                "remaining": lot.remaining,
                "available": lot.is_available,
                "available_at": lot.available_at.isoformat(),
                "expires_at": lot.expires_at.isoformat() if lot.expires_at else None,
            }
            for lot in lots[:100]
        ],
        "ledger": [ledger_entry_payload(e) for e in ledger_list(customer=customer)[:50]],
        "purchases": [
            purchase_payload(p, balance_points=customer.balance_points)
            for p in Purchase.objects.filter(merchant_id=merchant_id, customer=customer).order_by(
                "-created_at"
            )[:20]
        ],
    }


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


# --- purchases -------------------------------------------------------------------------------


def purchase_search(
    *,
    merchant_id: Any,
    since: date | None = None,
    until: date | None = None,
    outlet_id: Any = None,
    order_id: str = "",
) -> QuerySet[Purchase]:
    """Purchases newest first, filtered by day range (inclusive), outlet and order id.

    An order id is the unique (merchant, order_id) index; otherwise a range scan of
    ``portal_purchase_recent_idx`` (merchant, created_at)."""
    rows = Purchase.objects.filter(merchant_id=merchant_id).select_related("customer", "outlet")
    if order_id:
        rows = rows.filter(order_id=order_id)
    if since:
        rows = rows.filter(created_at__gte=_day_start(since))
    if until:
        rows = rows.filter(created_at__lt=_day_start(until + timedelta(days=1)))
    if outlet_id:
        oid = _uuid(outlet_id)
        rows = rows.filter(outlet_id=oid) if oid else rows.none()
    return rows


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def purchase_detail(*, merchant_id: Any, purchase_id: Any) -> dict[str, Any]:
    pid = _uuid(purchase_id)
    purchase = (
        Purchase.objects.select_related("customer", "outlet", "device", "manager")
        .filter(merchant_id=merchant_id, id=pid)
        .first()
        if pid
        else None
    )
    if purchase is None:
        raise NotFound(f"No purchase {purchase_id} for this merchant.")
    refunds = Refund.objects.filter(purchase=purchase).select_related("purchase").order_by("id")
    return {
        "purchase": purchase_payload(purchase, balance_points=purchase.customer.balance_points),
        "customer": {
            "id": str(purchase.customer_id),
            "phone": purchase.customer.phone,
            "name": purchase.customer.name,
        },
        "outlet": purchase.outlet.name if purchase.outlet else None,
        "lines": purchase.lines,
        "refundable_minor": purchase.amount_minor - purchase.refunded_minor,
        "refunds": [refund_payload(r) for r in refunds],
    }


def outlet_choices(*, merchant_id: Any) -> list[Outlet]:
    return list(Outlet.objects.filter(merchant_id=merchant_id).order_by("name")[:500])


# --- webhooks --------------------------------------------------------------------------------


def endpoint_list(*, merchant_id: Any) -> list[WebhookEndpoint]:
    return list(WebhookEndpoint.objects.filter(merchant_id=merchant_id).order_by("created_at"))


def endpoint_get(*, merchant_id: Any, endpoint_id: Any) -> WebhookEndpoint:
    eid = _uuid(endpoint_id)
    endpoint = (
        WebhookEndpoint.objects.filter(merchant_id=merchant_id, id=eid).first() if eid else None
    )
    if endpoint is None:
        raise NotFound(f"No webhook endpoint {endpoint_id} for this merchant.")
    return endpoint


def endpoint_paused(*, endpoint_id: Any) -> OutboxPause | None:
    return OutboxPause.objects.filter(endpoint_id=endpoint_id, resumed_at=None).first()


def delivery_search(
    *,
    merchant_id: Any,
    endpoint_id: Any = None,
    status: str = "",
    event_type: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[Delivery]:
    """The merchant's webhook deliveries, newest first (``portal_delivery_recent_idx``)."""
    rows = Delivery.objects.filter(merchant_id=merchant_id, channel="webhook").select_related(
        "event", "endpoint"
    )
    if endpoint_id:
        eid = _uuid(endpoint_id)
        rows = rows.filter(endpoint_id=eid) if eid else rows.none()
    if status:
        rows = rows.filter(status=status)
    if event_type:
        rows = rows.filter(event__event_type=event_type)
    if since:
        rows = rows.filter(created_at__gte=_day_start(since))
    if until:
        rows = rows.filter(created_at__lt=_day_start(until + timedelta(days=1)))
    return rows


def delivery_detail(*, merchant_id: Any, delivery_id: Any) -> dict[str, Any]:
    if not isinstance(delivery_id, int) or not 0 < delivery_id < 2**63:
        raise NotFound(f"No delivery {delivery_id} for this merchant.")
    delivery = (
        Delivery.objects.select_related("event", "endpoint")
        .filter(merchant_id=merchant_id, channel="webhook", id=delivery_id)
        .first()
    )
    if delivery is None:
        raise NotFound(f"No delivery {delivery_id} for this merchant.")
    # Every try sends the same body (payload and sequence never change): shown per attempt
    # from the one stored payload rather than a copy per attempt row.
    body = webhook_body_text(webhook_body(delivery))
    return {
        **delivery_row(delivery),
        "payload": delivery.event.payload,
        "attempts": [
            {
                "id": a.id,
                "started_at": a.started_at.isoformat(),
                "duration_ms": a.duration_ms,
                "status_code": a.status_code,
                "error": a.error_class,
                "response_excerpt": a.response_excerpt,
                "request_headers": a.request_headers,
                "request_body": body,
            }
            for a in delivery.attempt_rows.order_by("id")[:100]
        ],
    }


def delivery_row(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "message_id": delivery.event.message_id,
        "event_type": delivery.event.event_type,
        "endpoint_id": str(delivery.endpoint_id) if delivery.endpoint_id else None,
        "endpoint_url": delivery.endpoint.url if delivery.endpoint else None,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": delivery.created_at.isoformat(),
        "delivered_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
    }
