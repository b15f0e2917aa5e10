"""Purchases: where they happened, the earn/redeem quote, and the commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, ValidationFailed
from loyalty import pricing
from loyalty.models import (
    Customer,
    Device,
    EntryKind,
    LoyaltyProgram,
    Manager,
    Merchant,
    Outlet,
    Purchase,
)
from loyalty.payloads import purchase_payload
from loyalty.selectors import program_for, tier_for
from loyalty.services.ledger import customer_lock, entry_record, lot_create, lots_consume_fifo
from outbox.models import EventType
from outbox.services import outbox_event_record


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
            customer = customer_lock(merchant=merchant, customer_id=customer_id)
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
                taken = lots_consume_fifo(customer, quote.redeem_points)
                if taken != quote.redeem_points:  # lots disagree with the cached balance
                    raise RuntimeError(f"lots hold {taken} of {quote.redeem_points} points")
                entry_record(
                    customer, kind=EntryKind.REDEEM, points=-quote.redeem_points, purchase=purchase
                )
            if quote.earn_points:
                deferred = program.credit_delay_days > 0
                lot_create(
                    customer,
                    program,
                    quote.earn_points,
                    now=now,
                    purchase=purchase,
                    deferred=deferred,
                )
                entry_record(
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
                data=dict(purchase_payload(purchase, balance_points=customer.balance_points)),
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
