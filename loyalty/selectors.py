"""Reads of the loyalty domain; every one is scoped to a merchant (tenant isolation)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connection
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


@dataclass(frozen=True)
class ProgramTerms:
    """A merchant's program and the tier a given lifetime spend reaches (None: base rate)."""

    program: LoyaltyProgram
    tier: Tier | None


def program_terms(*, merchant: Merchant, lifetime_spend_minor: int) -> ProgramTerms:
    """The program and the reached tier in ONE statement (the commit's hot path).

    Same answer as :func:`program_for` + :func:`tier_for`: a ``LEFT JOIN LATERAL`` picks the
    highest tier whose threshold the spend reaches. A merchant without a program row yet (never
    configured) falls back to :func:`program_for`, which creates it with the defaults. On a
    database without ``LATERAL`` (SQLite, ``make run``) it is those two queries.
    """
    if connection.vendor != "postgresql":
        program = program_for(merchant)
        return ProgramTerms(
            program, tier_for(program=program, lifetime_spend_minor=lifetime_spend_minor)
        )
    program_table = LoyaltyProgram._meta.db_table
    tier_table = Tier._meta.db_table
    # Only the models' own table names are formatted in; every value is a parameter.
    sql = (
        f"SELECT p.*, t.id AS tier_pk, t.name AS tier_name, t.earn_bps AS tier_earn_bps, "  # noqa: S608
        f"t.min_lifetime_spend_minor AS tier_min FROM {program_table} p "
        f"LEFT JOIN LATERAL (SELECT id, name, earn_bps, min_lifetime_spend_minor "
        f"FROM {tier_table} WHERE program_id = p.id AND min_lifetime_spend_minor <= %s "
        f"ORDER BY min_lifetime_spend_minor DESC LIMIT 1) t ON true WHERE p.merchant_id = %s"
    )
    rows = list(LoyaltyProgram.objects.raw(sql, [lifetime_spend_minor, merchant.id]))
    if not rows:
        created = program_for(merchant)
        return ProgramTerms(
            created, tier_for(program=created, lifetime_spend_minor=lifetime_spend_minor)
        )
    row: Any = rows[0]  # the program, with the tier_* columns of the join
    tier = None
    if row.tier_pk is not None:
        tier = Tier(
            id=row.tier_pk,
            program=row,
            name=row.tier_name,
            earn_bps=row.tier_earn_bps,
            min_lifetime_spend_minor=row.tier_min,
        )
    return ProgramTerms(row, tier)


def tier_for(*, program: LoyaltyProgram, lifetime_spend_minor: int) -> Tier | None:
    return (
        Tier.objects.filter(program=program, min_lifetime_spend_minor__lte=lifetime_spend_minor)
        .order_by("-min_lifetime_spend_minor")
        .first()
    )


def ledger_list(*, customer: Customer) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(customer=customer).order_by("-id")
