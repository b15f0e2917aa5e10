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
