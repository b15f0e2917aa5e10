"""Reads of the loyalty domain; every one is scoped to a merchant (tenant isolation)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from core.errors import NotFound
from core.fast_sql import model_columns, model_from_values, model_row
from loyalty.models import Customer, LedgerEntry, LoyaltyProgram, Merchant, Purchase, Tier


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def customer_get(*, merchant: Merchant, customer_id: Any) -> Customer:
    """The merchant's customer (one statement, no query building: a hot read of the API);
    ``customer.merchant`` is ``merchant`` without a query."""
    cid = _uuid_or_none(customer_id)
    customer = model_row(Customer, merchant_id=merchant.id, id=cid) if cid else None
    if customer is None:
        raise NotFound(f"No customer {customer_id} for this merchant.")
    customer.merchant = merchant
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
    with connection.cursor() as cursor:
        cursor.execute(_program_terms_sql(), [lifetime_spend_minor, merchant.id])
        row = cursor.fetchone()
    if row is None:
        created = program_for(merchant)
        return ProgramTerms(
            created, tier_for(program=created, lifetime_spend_minor=lifetime_spend_minor)
        )
    size = len(LoyaltyProgram._meta.concrete_fields)
    return _terms_from_values(row[:size], row[size:])


def _terms_from_values(program_values: Any, tier_values: Any) -> ProgramTerms:
    """The program and the tier (None: its columns are NULL) from their columns' values."""
    program = model_from_values(LoyaltyProgram, program_values)
    if tier_values[0] is None:
        return ProgramTerms(program, None)
    tier = model_from_values(Tier, tier_values)
    tier.program = program
    return ProgramTerms(program, tier)


def customer_terms_sql(*, customers_from: str, where: str) -> str:
    """``SELECT`` the customer (alias ``c``, joined in by ``customers_from``), the merchant's
    program and the tier the customer's lifetime spend reaches, as :func:`customer_terms_from_row`
    reads them: one statement for what :func:`program_terms` adds to a customer row."""
    programs = connection.ops.quote_name(LoyaltyProgram._meta.db_table)
    # Only the models' own table and column names and the callers' fixed SQL are formatted in;
    # every value is a parameter.
    return (
        f"SELECT {model_columns(Customer, 'c')}, {model_columns(LoyaltyProgram, 'p')}, "  # noqa: S608
        f"{model_columns(Tier, 't')} FROM {customers_from} "
        f"LEFT JOIN {programs} p ON p.merchant_id = c.merchant_id "
        f"{_reached_tier('c.lifetime_spend_minor')} WHERE {where}"
    )


def _reached_tier(spend: str) -> str:
    """``LEFT JOIN LATERAL`` of the program ``p``'s highest tier that ``spend`` (an SQL
    expression) reaches, as ``t``."""
    tiers = connection.ops.quote_name(Tier._meta.db_table)
    return (
        f"LEFT JOIN LATERAL (SELECT * FROM {tiers} WHERE program_id = p.id "  # noqa: S608
        f"AND min_lifetime_spend_minor <= {spend} "
        f"ORDER BY min_lifetime_spend_minor DESC LIMIT 1) t ON true"
    )


def customer_terms_from_row(merchant: Merchant, row: Any) -> tuple[Customer, ProgramTerms]:
    """The customer and its terms from a row of :func:`customer_terms_sql`; a merchant without
    a program row yet gets it created by :func:`program_terms`."""
    sizes = [len(m._meta.concrete_fields) for m in (Customer, LoyaltyProgram, Tier)]
    customer = model_from_values(Customer, row[: sizes[0]])
    customer.merchant = merchant
    program_values = row[sizes[0] : sizes[0] + sizes[1]]
    if program_values[0] is None:  # no program row yet: program_for creates it
        return customer, program_terms(
            merchant=merchant, lifetime_spend_minor=customer.lifetime_spend_minor
        )
    return customer, _terms_from_values(program_values, row[sizes[0] + sizes[1] :])


@cache
def _program_terms_sql() -> str:
    programs = connection.ops.quote_name(LoyaltyProgram._meta.db_table)
    # Only the models' own table and column names are formatted in; every value is a parameter.
    return (
        f"SELECT {model_columns(LoyaltyProgram, 'p')}, {model_columns(Tier, 't')} "  # noqa: S608
        f"FROM {programs} p {_reached_tier('%s')} WHERE p.merchant_id = %s"
    )


def tier_for(*, program: LoyaltyProgram, lifetime_spend_minor: int) -> Tier | None:
    return (
        Tier.objects.filter(program=program, min_lifetime_spend_minor__lte=lifetime_spend_minor)
        .order_by("-min_lifetime_spend_minor")
        .first()
    )


def ledger_list(*, customer: Customer) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(customer=customer).order_by("-id")
