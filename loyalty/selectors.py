"""Reads of the loyalty domain; every one is scoped to a merchant (tenant isolation)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from core.errors import NotFound
from loyalty.models import Customer, LedgerEntry, LoyaltyProgram, Merchant, Purchase, Tier


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def customer_get(*, merchant: Merchant, customer_id: Any) -> Customer:
    cid = _uuid_or_none(customer_id)
    customer = Customer.objects.filter(merchant=merchant, id=cid).first() if cid else None
    if customer is None:
        raise NotFound(f"No customer {customer_id} for this merchant.")
    return customer


def customer_get_by_phone(*, merchant: Merchant, phone: str) -> Customer:
    customer = Customer.objects.filter(merchant=merchant, phone=phone).first()
    if customer is None:
        raise NotFound(f"No customer with phone {phone} for this merchant.")
    return customer


def purchase_get(
    *, merchant: Merchant, purchase_id: Any = None, order_id: str | None = None
) -> Purchase:
    qs = Purchase.objects.filter(merchant=merchant)
    if purchase_id is not None:
        pid = _uuid_or_none(purchase_id)
        purchase = qs.filter(id=pid).first() if pid else None
        label = f"purchase {purchase_id}"
    else:
        purchase = qs.filter(order_id=order_id).first()
        label = f"purchase with order_id {order_id}"
    if purchase is None:
        raise NotFound(f"No {label} for this merchant.")
    return purchase


def program_for(merchant: Merchant) -> LoyaltyProgram:
    program, _ = LoyaltyProgram.objects.get_or_create(merchant=merchant)
    return program


def tier_for(*, program: LoyaltyProgram, lifetime_spend_minor: int) -> Tier | None:
    return (
        Tier.objects.filter(program=program, min_lifetime_spend_minor__lte=lifetime_spend_minor)
        .order_by("-min_lifetime_spend_minor")
        .first()
    )


def ledger_list(*, customer: Customer) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(customer=customer).order_by("-id")


def customer_payload(
    customer: Customer, *, program: LoyaltyProgram | None = None
) -> dict[str, Any]:
    """The customer as the API and webhooks show it."""
    program = program or program_for(customer.merchant)
    tier = tier_for(program=program, lifetime_spend_minor=customer.lifetime_spend_minor)
    return {
        "id": str(customer.id),
        "phone": customer.phone,
        "name": customer.name,
        "balance_points": customer.balance_points,
        "pending_points": customer.pending_points,
        "tier": tier.name if tier else None,
        "telegram_linked": customer.telegram_status == "linked",
        "created_at": customer.created_at.isoformat(),
    }


def purchase_payload(purchase: Purchase, *, balance_points: int) -> dict[str, Any]:
    """The purchase as the API and webhooks show it."""
    return {
        "id": str(purchase.id),
        "order_id": purchase.order_id,
        "customer_id": str(purchase.customer_id),
        "amount_minor": purchase.amount_minor,
        "earned_points": purchase.earned_points,
        "redeemed_points": purchase.redeemed_points,
        "redeemed_minor": purchase.redeemed_minor,
        "refunded_minor": purchase.refunded_minor,
        "balance_points": balance_points,
        "outlet_id": str(purchase.outlet_id) if purchase.outlet_id else None,
        "device_id": str(purchase.device_id) if purchase.device_id else None,
        "manager_id": str(purchase.manager_id) if purchase.manager_id else None,
        "created_at": purchase.created_at.isoformat(),
    }
