"""Points outside purchases: adjustments by hand, maturing deferred points, expiry and its
reminder."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import ValidationFailed
from loyalty import pricing
from loyalty.errors import InsufficientPoints
from loyalty.events import EventType
from loyalty.models import Customer, EntryKind, LedgerEntry, Merchant, PointsLot, TelegramStatus
from loyalty.payloads import PointsAdjustedData, PointsExpiredData, PointsExpiringData
from loyalty.selectors import program_for
from loyalty.services.ledger import customer_lock, entry_record, lot_create, lots_consume_fifo
from outbox.services import outbox_event_record


def points_adjust(*, merchant: Merchant, customer_id: Any, points: int, reason: str) -> LedgerEntry:
    """Add (positive) or remove (negative) spendable points by hand, with a reason."""
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise ValidationFailed(
            "points must be a non-zero integer.", errors={"points": ["Send e.g. 100 or -50."]}
        )
    if abs(points) > pricing.MAX_POINTS:
        raise ValidationFailed(f"points must be within ±{pricing.MAX_POINTS}.")
    if not reason.strip():
        raise ValidationFailed("A reason is required.", errors={"reason": ["Say why."]})
    with transaction.atomic():
        customer = customer_lock(merchant=merchant, customer_id=customer_id)
        if points > 0:
            lot_create(customer, program_for(merchant), points, now=timezone.now())
        else:
            if -points > customer.balance_points:
                raise InsufficientPoints(
                    f"The customer has {customer.balance_points} points; cannot remove {-points}."
                )
            lots_consume_fifo(customer, -points)
        entry = entry_record(
            customer, kind=EntryKind.ADJUSTMENT, points=points, reason=reason.strip()[:200]
        )
        customer.save(update_fields=["balance_points", "updated_at"])
        outbox_event_record(
            merchant=merchant,
            event_type=EventType.POINTS_ADJUSTED,
            data=PointsAdjustedData(
                customer_id=str(customer.id),
                points=points,
                reason=entry.reason,
                balance_points=customer.balance_points,
            ),
            customer=customer,
        )
    return entry


def points_credit_matured(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Make deferred points spendable once their day has come; returns lots credited."""
    now = now or timezone.now()
    customer_ids = list(
        PointsLot.objects.filter(is_available=False, available_at__lte=now)
        .values_list("customer_id", flat=True)
        .distinct()[:limit]
    )
    credited = 0
    for customer_id in customer_ids:
        with transaction.atomic():
            customer = Customer.objects.select_for_update().get(id=customer_id)
            lots = list(
                PointsLot.objects.filter(
                    customer=customer, is_available=False, available_at__lte=now
                )
            )
            for lot in lots:
                PointsLot.objects.filter(id=lot.id).update(is_available=True)
                if lot.remaining:
                    entry_record(
                        customer,
                        kind=EntryKind.CREDIT,
                        points=lot.remaining,
                        pending=-lot.remaining,
                        purchase=lot.purchase,
                    )
                credited += 1
            customer.save(update_fields=["balance_points", "pending_points", "updated_at"])
    return credited


def points_expire_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Expire what is left of lots past their expiry date, one customer per transaction."""
    now = now or timezone.now()
    customer_ids = list(
        PointsLot.objects.filter(is_available=True, remaining__gt=0, expires_at__lte=now)
        .values_list("customer_id", flat=True)
        .distinct()[:limit]
    )
    expired_total = 0
    for customer_id in customer_ids:
        with transaction.atomic():
            customer = (
                Customer.objects.select_for_update().select_related("merchant").get(id=customer_id)
            )
            lots = PointsLot.objects.filter(
                customer=customer, is_available=True, remaining__gt=0, expires_at__lte=now
            )
            points = sum(lot.remaining for lot in lots)
            if not points:
                continue
            lots.update(remaining=0)
            entry_record(customer, kind=EntryKind.EXPIRY, points=-points)
            customer.save(update_fields=["balance_points", "updated_at"])
            outbox_event_record(
                merchant=customer.merchant,
                event_type=EventType.POINTS_EXPIRED,
                data=PointsExpiredData(
                    customer_id=str(customer.id),
                    points=points,
                    balance_points=customer.balance_points,
                ),
                customer=customer,
            )
            expired_total += points
    return expired_total


#: How long before expiry a linked customer gets a Telegram reminder.
EXPIRY_REMINDER_WINDOW = timedelta(days=7)


def points_expiry_remind(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Remind linked customers of points expiring within the window; each lot reminded once."""
    now = now or timezone.now()
    horizon = now + EXPIRY_REMINDER_WINDOW
    due = PointsLot.objects.filter(
        is_available=True,
        remaining__gt=0,
        expires_at__gt=now,
        expires_at__lte=horizon,
        expiry_notified_at=None,
    )
    customer_ids = list(due.values_list("customer_id", flat=True).distinct()[:limit])
    reminded = 0
    for customer_id in customer_ids:
        with transaction.atomic():
            customer = (
                Customer.objects.select_for_update().select_related("merchant").get(id=customer_id)
            )
            lots = list(due.filter(customer=customer).select_for_update())
            if not lots:
                continue
            PointsLot.objects.filter(id__in=[lot.id for lot in lots]).update(expiry_notified_at=now)
            if customer.telegram_status != TelegramStatus.LINKED:
                continue  # nobody to tell; the lots are marked so we do not look again
            soonest = min(lot.expires_at for lot in lots if lot.expires_at)
            outbox_event_record(
                merchant=customer.merchant,
                event_type=EventType.POINTS_EXPIRING_SOON,
                data=PointsExpiringData(
                    customer_id=str(customer.id),
                    points=sum(lot.remaining for lot in lots),
                    expires_at=soonest.isoformat(),
                    balance_points=customer.balance_points,
                ),
                customer=customer,
            )
            reminded += 1
    return reminded


def points_expiring_soon(*, customer: Customer, within: timedelta = timedelta(days=14)) -> int:
    """Spendable points whose lots expire within ``within``."""
    horizon = timezone.now() + within
    return sum(
        PointsLot.objects.filter(
            Q(customer=customer, is_available=True, remaining__gt=0, expires_at__lte=horizon)
        ).values_list("remaining", flat=True)
    )
