"""Loyalty writes. The only code that changes balances, the ledger and lots.

Every top-level service runs in one transaction that locks the customer row, writes the domain
rows and ledger entries, and records the outbox event announcing the change
(:func:`outbox.services.outbox_event_record`). If any write fails, none is committed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.errors import Conflict, NotFound, ValidationFailed
from loyalty import pricing
from loyalty.errors import CodeInvalid, InsufficientPoints, RefundNotAllowed
from loyalty.models import (
    Customer,
    CustomerCode,
    Device,
    EntryKind,
    LedgerEntry,
    LoyaltyProgram,
    Manager,
    Merchant,
    Outlet,
    PointsLot,
    Purchase,
    Refund,
    TelegramStatus,
)
from loyalty.phones import phone_normalize
from loyalty.selectors import (
    customer_payload,
    program_for,
    purchase_payload,
    tier_for,
)
from outbox.models import EventType
from outbox.services import outbox_event_record

#: How long a one-time customer code stays valid.
CUSTOMER_CODE_TTL = timedelta(seconds=300)
#: Digits in a one-time customer code (typed by a cashier or scanned).
CUSTOMER_CODE_DIGITS = 9


# --- merchants -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MerchantSetup:
    merchant: Merchant
    outlet: Outlet
    device: Device
    manager: Manager


@transaction.atomic
def merchant_create(*, name: str, earn_bps: int = 500, redeem_cap_bps: int = 5000) -> MerchantSetup:
    """A merchant with its program, a first outlet, register and manager."""
    if not name.strip():
        raise ValidationFailed("name is required.", errors={"name": ["Give the merchant a name."]})
    merchant = Merchant.objects.create(name=name.strip())
    LoyaltyProgram.objects.create(
        merchant=merchant, earn_bps=earn_bps, redeem_cap_bps=redeem_cap_bps
    )
    outlet = Outlet.objects.create(merchant=merchant, name="Main outlet")
    device = Device.objects.create(merchant=merchant, outlet=outlet, name="Register 1")
    manager = Manager.objects.create(merchant=merchant, outlet=outlet, name="Manager")
    return MerchantSetup(merchant=merchant, outlet=outlet, device=device, manager=manager)


# --- customers -----------------------------------------------------------------------------


@transaction.atomic
def customer_register(*, merchant: Merchant, phone: str, name: str = "") -> Customer:
    """Register a customer by phone; a phone already registered is a :class:`Conflict`."""
    e164 = phone_normalize(phone)
    existing = Customer.objects.filter(merchant=merchant, phone=e164).first()
    if existing is not None:
        raise Conflict(
            f"Phone {e164} is already registered as customer {existing.id}.",
            extra={"customer_id": str(existing.id)},
        )
    try:
        with transaction.atomic():
            customer = Customer.objects.create(
                merchant=merchant, phone=e164, name=name.strip()[:200]
            )
    except IntegrityError:
        # A concurrent registration of the same phone won the unique constraint.
        existing = Customer.objects.get(merchant=merchant, phone=e164)
        raise Conflict(
            f"Phone {e164} is already registered as customer {existing.id}.",
            extra={"customer_id": str(existing.id)},
        ) from None
    outbox_event_record(
        merchant=merchant,
        event_type=EventType.CUSTOMER_CREATED,
        data=customer_payload(customer),
        customer=customer,
    )
    return customer


@transaction.atomic
def customer_telegram_link(
    *, merchant: Merchant, phone: str, chat_id: int, name: str = "", language: str = ""
) -> Customer:
    """Link a Telegram chat to the merchant's customer with this phone, registering if new."""
    e164 = phone_normalize(phone)
    customer = Customer.objects.select_for_update().filter(merchant=merchant, phone=e164).first()
    if customer is None:
        customer = customer_register(merchant=merchant, phone=e164, name=name)
        customer = Customer.objects.select_for_update().get(id=customer.id)
    customer.telegram_chat_id = chat_id
    customer.telegram_status = TelegramStatus.LINKED
    customer.telegram_language = language[:8]
    customer.save(
        update_fields=["telegram_chat_id", "telegram_status", "telegram_language", "updated_at"]
    )
    outbox_event_record(
        merchant=merchant,
        event_type=EventType.CUSTOMER_TELEGRAM_LINKED,
        data=customer_payload(customer),
        customer=customer,
    )
    return customer


def customer_telegram_unlink(*, chat_id: int, blocked: bool = False) -> int:
    """Unlink every customer of this chat (``/stop``) or mark them blocked (bot blocked: 403)."""
    status = TelegramStatus.BLOCKED if blocked else TelegramStatus.NONE
    return Customer.objects.filter(telegram_chat_id=chat_id).update(
        telegram_status=status, updated_at=timezone.now()
    )


def _code_hash(merchant_id: uuid.UUID, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{merchant_id}:{code}".encode(), hashlib.sha256).hexdigest()


def customer_code_issue(*, customer: Customer, now: datetime | None = None) -> str:
    """A fresh one-time code for the register; stored only as a keyed hash."""
    now = now or timezone.now()
    for _ in range(5):
        code = "".join(secrets.choice("0123456789") for _ in range(CUSTOMER_CODE_DIGITS))
        try:
            with transaction.atomic():
                CustomerCode.objects.create(
                    merchant_id=customer.merchant_id,
                    customer=customer,
                    code_hash=_code_hash(customer.merchant_id, code),
                    expires_at=now + CUSTOMER_CODE_TTL,
                )
            return code
        except IntegrityError:
            continue  # a collision with an older code; draw again
    raise RuntimeError("could not draw a unique customer code")


def customer_code_redeem(*, merchant: Merchant, code: str, now: datetime | None = None) -> Customer:
    """Resolve and consume a one-time code (single use, short-lived) by a conditional update."""
    now = now or timezone.now()
    code = str(code).strip().replace(" ", "").replace("-", "")
    digest = _code_hash(merchant.id, code)
    claimed = CustomerCode.objects.filter(
        merchant=merchant, code_hash=digest, used_at=None, expires_at__gt=now
    ).update(used_at=now)
    if not claimed:
        raise CodeInvalid(
            "The code is unknown, already used or expired. Ask the customer to open a new code "
            "in the bot (/code)."
        )
    return CustomerCode.objects.select_related("customer").get(code_hash=digest).customer


# --- ledger primitives (run under the customer row lock) ------------------------------------


def _lock_customer(*, merchant: Merchant, customer_id: Any) -> Customer:
    customer = (
        Customer.objects.select_for_update().filter(merchant=merchant, id=customer_id).first()
    )
    if customer is None:
        raise NotFound(f"No customer {customer_id} for this merchant.")
    return customer


def _entry(
    customer: Customer,
    *,
    kind: str,
    points: int = 0,
    pending: int = 0,
    purchase: Purchase | None = None,
    refund: Refund | None = None,
    reason: str = "",
) -> LedgerEntry:
    customer.balance_points += points
    customer.pending_points += pending
    if customer.balance_points < 0 or customer.pending_points < 0:
        raise InsufficientPoints("The balance cannot go below zero.")
    return LedgerEntry.objects.create(
        merchant_id=customer.merchant_id,
        customer=customer,
        kind=kind,
        points=points,
        pending_points=pending,
        balance_after=customer.balance_points,
        purchase=purchase,
        refund=refund,
        reason=reason,
    )


def _consume_fifo(
    customer: Customer, points: int, *, prefer_purchase: Purchase | None = None
) -> int:
    """Take up to ``points`` from available lots, oldest expiry first; returns points taken."""
    left = points
    lots = PointsLot.objects.filter(customer=customer, is_available=True, remaining__gt=0)
    ordered: list[PointsLot] = []
    if prefer_purchase is not None:
        ordered.extend(lots.filter(purchase=prefer_purchase).order_by("id"))
    ordered.extend(
        lots.exclude(id__in=[lot.id for lot in ordered]).order_by(
            F("expires_at").asc(nulls_last=True), "id"
        )
    )
    changed = []
    for lot in ordered:
        if left == 0:
            break
        take = min(lot.remaining, left)
        lot.remaining -= take
        left -= take
        changed.append(lot)
    if changed:
        PointsLot.objects.bulk_update(changed, ["remaining"])
    return points - left


def _new_lot(
    customer: Customer,
    program: LoyaltyProgram,
    points: int,
    *,
    now: datetime,
    purchase: Purchase | None = None,
    deferred: bool = False,
) -> PointsLot:
    available_at = now + timedelta(days=program.credit_delay_days) if deferred else now
    expires_at = available_at + timedelta(days=program.expiry_days) if program.expiry_days else None
    return PointsLot.objects.create(
        customer=customer,
        purchase=purchase,
        points=points,
        remaining=points,
        is_available=not deferred,
        available_at=available_at,
        expires_at=expires_at,
    )


# --- purchases -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceRefs:
    outlet: Outlet | None
    device: Device | None
    manager: Manager | None


def place_resolve(
    *, merchant: Merchant, outlet_id: Any = None, device_id: Any = None, manager_id: Any = None
) -> PlaceRefs:
    """Check the outlet/device/manager ids belong to the merchant; at least one is required."""
    if not (outlet_id or device_id or manager_id):
        msg = "Send one of outlet_id, device_id or manager_id to say where the purchase happened."
        raise ValidationFailed(msg, errors={"outlet_id": [msg]})

    def fetch(model: Any, value: Any, field: str) -> Any:
        if not value:
            return None
        try:
            obj = model.objects.filter(merchant=merchant, id=uuid.UUID(str(value))).first()
        except ValueError:
            obj = None
        if obj is None:
            raise ValidationFailed(
                f"{field} {value} is not one of this merchant's.",
                errors={field: [f"Use a {field.removesuffix('_id')} id of your own merchant."]},
            )
        return obj

    device = fetch(Device, device_id, "device_id")
    outlet = fetch(Outlet, outlet_id, "outlet_id") or (device.outlet if device else None)
    return PlaceRefs(outlet=outlet, device=device, manager=fetch(Manager, manager_id, "manager_id"))


def purchase_quote(
    *,
    merchant: Merchant,
    customer: Customer,
    amount_minor: int,
    redeem_points: int = 0,
    lines: list[dict[str, Any]] | None = None,
    program: LoyaltyProgram | None = None,
) -> pricing.Quote:
    """Earn/redeem figures for a purchase; writes nothing."""
    program = program or program_for(merchant)
    tier = tier_for(program=program, lifetime_spend_minor=customer.lifetime_spend_minor)
    return pricing.quote_compute(
        lines=pricing.lines_parse(amount_minor, lines),
        redeem_points=redeem_points,
        balance_points=customer.balance_points,
        earn_bps=tier.earn_bps if tier else program.earn_bps,
        redeem_cap_bps=program.redeem_cap_bps,
        minor_per_point=program.minor_per_point,
        tier=tier.name if tier else None,
    )


def purchase_commit(
    *,
    merchant: Merchant,
    customer_id: Any,
    amount_minor: int,
    order_id: str,
    redeem_points: int = 0,
    lines: list[dict[str, Any]] | None = None,
    outlet_id: Any = None,
    device_id: Any = None,
    manager_id: Any = None,
) -> Purchase:
    """Commit a purchase: redeem (oldest lots first), earn (possibly deferred), announce it."""
    order_id = str(order_id or "").strip()
    if not order_id or len(order_id) > 100:
        raise ValidationFailed(
            "order_id is required (1-100 characters).",
            errors={"order_id": ["Send your register's order number, unique per merchant."]},
        )
    parsed_lines = pricing.lines_parse(amount_minor, lines)
    places = place_resolve(
        merchant=merchant, outlet_id=outlet_id, device_id=device_id, manager_id=manager_id
    )
    try:
        with transaction.atomic():
            customer = _lock_customer(merchant=merchant, customer_id=customer_id)
            if Purchase.objects.filter(merchant=merchant, order_id=order_id).exists():
                raise _order_conflict(merchant, order_id)
            program = program_for(merchant)
            quote = purchase_quote(
                merchant=merchant,
                customer=customer,
                amount_minor=amount_minor,
                redeem_points=redeem_points,
                lines=[line.__dict__ for line in parsed_lines],
                program=program,
            )
            now = timezone.now()
            purchase = Purchase.objects.create(
                merchant=merchant,
                customer=customer,
                order_id=order_id,
                amount_minor=amount_minor,
                earnable_minor=quote.earnable_minor,
                earned_points=quote.earn_points,
                redeemed_points=quote.redeem_points,
                redeemed_minor=quote.redeemed_minor,
                outlet=places.outlet,
                device=places.device,
                manager=places.manager,
                lines=[line.__dict__ for line in parsed_lines] if lines else [],
            )
            if quote.redeem_points:
                taken = _consume_fifo(customer, quote.redeem_points)
                if taken != quote.redeem_points:  # lots disagree with the cached balance
                    raise RuntimeError(f"lots hold {taken} of {quote.redeem_points} points")
                _entry(
                    customer, kind=EntryKind.REDEEM, points=-quote.redeem_points, purchase=purchase
                )
            if quote.earn_points:
                deferred = program.credit_delay_days > 0
                _new_lot(
                    customer,
                    program,
                    quote.earn_points,
                    now=now,
                    purchase=purchase,
                    deferred=deferred,
                )
                _entry(
                    customer,
                    kind=EntryKind.EARN,
                    points=0 if deferred else quote.earn_points,
                    pending=quote.earn_points if deferred else 0,
                    purchase=purchase,
                )
            customer.lifetime_spend_minor += amount_minor
            customer.save(
                update_fields=[
                    "balance_points",
                    "pending_points",
                    "lifetime_spend_minor",
                    "updated_at",
                ]
            )
            outbox_event_record(
                merchant=merchant,
                event_type=EventType.PURCHASE_COMMITTED,
                data=purchase_payload(purchase, balance_points=customer.balance_points),
                customer=customer,
            )
    except IntegrityError as exc:
        if "purchase_order_per_merchant" in str(exc):
            raise _order_conflict(merchant, order_id) from None
        raise
    purchase.customer = customer
    return purchase


def _order_conflict(merchant: Merchant, order_id: str) -> Conflict:
    existing = (
        Purchase.objects.filter(merchant=merchant, order_id=order_id)
        .values_list("id", flat=True)
        .first()
    )
    return Conflict(
        f"order_id {order_id} is already committed as purchase {existing}.",
        errors={"order_id": ["Each order_id can be committed once; use a new one."]},
        extra={"purchase_id": str(existing) if existing else None},
    )


# --- refunds -------------------------------------------------------------------------------


def refund_create(
    *,
    merchant: Merchant,
    purchase_id: Any = None,
    order_id: str | None = None,
    amount_minor: int | None = None,
) -> Refund:
    """Refund all or part of a purchase, moving points in proportion to the refunded share.

    Redeemed points come back as a new lot; earned points are taken back from the purchase's own
    lot first, then oldest first. Points already spent cannot be taken back: the balance never
    goes negative and the shortfall is recorded on the refund (``earned_points_shortfall``).
    """
    from loyalty.selectors import purchase_get

    if purchase_id is None and not order_id:
        msg = "Send purchase_id or order_id of the purchase to refund."
        raise ValidationFailed(msg, errors={"purchase_id": [msg]})
    if amount_minor is not None:
        pricing.amount_check(amount_minor, field="amount_minor")
    found = purchase_get(merchant=merchant, purchase_id=purchase_id, order_id=order_id)
    with transaction.atomic():
        # Lock order everywhere: customer, then purchase.
        customer = _lock_customer(merchant=merchant, customer_id=found.customer_id)
        purchase = Purchase.objects.select_for_update().get(id=found.id)
        left = purchase.amount_minor - purchase.refunded_minor
        if left <= 0:
            raise RefundNotAllowed(
                f"Purchase {purchase.id} is already fully refunded.",
                extra={"purchase_id": str(purchase.id)},
            )
        amount = left if amount_minor is None else amount_minor
        if amount > left:
            raise RefundNotAllowed(
                f"Only {left} of this purchase is left to refund; {amount} was asked.",
                errors={"amount_minor": [f"Send at most {left}."]},
            )
        refunded_after = purchase.refunded_minor + amount
        reverse = pricing.refund_share(
            total=purchase.earned_points,
            purchase_amount=purchase.amount_minor,
            refunded_after=refunded_after,
            already=purchase.refunded_earned_points,
        )
        give_back = pricing.refund_share(
            total=purchase.redeemed_points,
            purchase_amount=purchase.amount_minor,
            refunded_after=refunded_after,
            already=purchase.refunded_redeemed_points,
        )
        refund = Refund.objects.create(merchant=merchant, purchase=purchase, amount_minor=amount)
        program = program_for(merchant)
        now = timezone.now()
        if give_back:
            _new_lot(customer, program, give_back, now=now)
            _entry(
                customer,
                kind=EntryKind.REFUND_RETURN,
                points=give_back,
                purchase=purchase,
                refund=refund,
            )
        reversed_points = 0
        if reverse:
            # Not yet spendable (deferred) points of this purchase go first.
            pending_lot = PointsLot.objects.filter(
                customer=customer, purchase=purchase, is_available=False, remaining__gt=0
            ).first()
            from_pending = 0
            if pending_lot is not None:
                from_pending = min(pending_lot.remaining, reverse)
                PointsLot.objects.filter(id=pending_lot.id).update(
                    remaining=F("remaining") - from_pending
                )
            from_balance = _consume_fifo(customer, reverse - from_pending, prefer_purchase=purchase)
            reversed_points = from_pending + from_balance
            _entry(
                customer,
                kind=EntryKind.REFUND_REVERSAL,
                points=-from_balance,
                pending=-from_pending,
                purchase=purchase,
                refund=refund,
            )
        refund.earned_points_reversed = reversed_points
        refund.earned_points_shortfall = reverse - reversed_points
        refund.redeemed_points_returned = give_back
        refund.save(
            update_fields=[
                "earned_points_reversed",
                "earned_points_shortfall",
                "redeemed_points_returned",
            ]
        )
        purchase.refunded_minor = refunded_after
        # Count the whole share as handled so later refunds do not try to take it again.
        purchase.refunded_earned_points += reverse
        purchase.refunded_redeemed_points += give_back
        purchase.save(
            update_fields=["refunded_minor", "refunded_earned_points", "refunded_redeemed_points"]
        )
        customer.lifetime_spend_minor = max(customer.lifetime_spend_minor - amount, 0)
        customer.save(
            update_fields=["balance_points", "pending_points", "lifetime_spend_minor", "updated_at"]
        )
        outbox_event_record(
            merchant=merchant,
            event_type=EventType.PURCHASE_REFUNDED,
            data={
                **refund_payload(refund),
                "purchase": purchase_payload(purchase, balance_points=customer.balance_points),
                "balance_points": customer.balance_points,
            },
            customer=customer,
        )
    return refund


def refund_payload(refund: Refund) -> dict[str, Any]:
    return {
        "id": str(refund.id),
        "purchase_id": str(refund.purchase_id),
        "order_id": refund.purchase.order_id,
        "amount_minor": refund.amount_minor,
        "earned_points_reversed": refund.earned_points_reversed,
        "earned_points_shortfall": refund.earned_points_shortfall,
        "redeemed_points_returned": refund.redeemed_points_returned,
        "created_at": refund.created_at.isoformat(),
    }


# --- adjustments, maturity, expiry -----------------------------------------------------------


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
        customer = _lock_customer(merchant=merchant, customer_id=customer_id)
        if points > 0:
            _new_lot(customer, program_for(merchant), points, now=timezone.now())
        else:
            if -points > customer.balance_points:
                raise InsufficientPoints(
                    f"The customer has {customer.balance_points} points; cannot remove {-points}."
                )
            _consume_fifo(customer, -points)
        entry = _entry(
            customer, kind=EntryKind.ADJUSTMENT, points=points, reason=reason.strip()[:200]
        )
        customer.save(update_fields=["balance_points", "updated_at"])
        outbox_event_record(
            merchant=merchant,
            event_type=EventType.POINTS_ADJUSTED,
            data={
                "customer_id": str(customer.id),
                "points": points,
                "reason": entry.reason,
                "balance_points": customer.balance_points,
            },
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
                    _entry(
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
            _entry(customer, kind=EntryKind.EXPIRY, points=-points)
            customer.save(update_fields=["balance_points", "updated_at"])
            outbox_event_record(
                merchant=customer.merchant,
                event_type=EventType.POINTS_EXPIRED,
                data={
                    "customer_id": str(customer.id),
                    "points": points,
                    "balance_points": customer.balance_points,
                },
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
                data={
                    "customer_id": str(customer.id),
                    "points": sum(lot.remaining for lot in lots),
                    "expires_at": soonest.isoformat(),
                    "balance_points": customer.balance_points,
                },
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
