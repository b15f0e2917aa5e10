"""Ledger primitives shared by the writes: lock the customer, move points between lots, record
ledger entries. Callers run them in their own transaction, under the customer row lock."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import F

from core.errors import NotFound
from core.fast_sql import model_insert, model_row
from loyalty.errors import InsufficientPoints
from loyalty.models import (
    Customer,
    LedgerEntry,
    LoyaltyProgram,
    Merchant,
    PointsLot,
    Purchase,
    Refund,
)
from loyalty.selectors import (
    ProgramTerms,
    customer_terms_from_row,
    customer_terms_sql,
    program_terms,
)


def customer_lock(*, merchant: Merchant, customer_id: Any) -> Customer:
    """The customer's row, locked until the caller's transaction ends (``FOR UPDATE``).

    Written with :func:`core.fast_sql.model_row`: it runs on every write and the ORM's query
    building was a tenth of the commit's CPU. A customer id that is not a UUID finds nobody, as
    with the ORM.
    """
    customer = model_row(
        Customer, lock=True, merchant_id=merchant.id, id=_customer_uuid(customer_id)
    )
    if customer is None:
        raise _no_customer(customer_id)
    return customer


def _customer_uuid(customer_id: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(customer_id))
    except ValueError:
        raise _no_customer(customer_id) from None


def _no_customer(customer_id: Any) -> NotFound:
    return NotFound(f"No customer {customer_id} for this merchant.")


def customer_lock_with_terms(
    *, merchant: Merchant, customer_id: Any
) -> tuple[Customer, ProgramTerms]:
    """:func:`customer_lock` and :func:`~loyalty.selectors.program_terms` for the customer's
    lifetime spend, in ONE statement on PostgreSQL (the commit's hot path, issue 16).

    ``FOR UPDATE OF`` the customer only: the program and tier rows are read, not locked, as
    with the two calls. A merchant without a program row yet, or a database without
    ``LATERAL`` (SQLite, ``make run``), takes the two calls.
    """
    if connection.vendor != "postgresql":
        customer = customer_lock(merchant=merchant, customer_id=customer_id)
        return customer, program_terms(
            merchant=merchant, lifetime_spend_minor=customer.lifetime_spend_minor
        )
    cid = _customer_uuid(customer_id)
    with connection.cursor() as cursor:
        cursor.execute(_lock_with_terms_sql(), [merchant.id, cid])
        row = cursor.fetchone()
    if row is None:
        raise _no_customer(customer_id)
    return customer_terms_from_row(merchant, row)


@cache
def _lock_with_terms_sql() -> str:
    customers = connection.ops.quote_name(Customer._meta.db_table)
    return (
        customer_terms_sql(
            customers_from=f"{customers} c", where="c.merchant_id = %s AND c.id = %s"
        )
        + " FOR UPDATE OF c"
    )


def entry_record(
    customer: Customer,
    *,
    kind: str,
    points: int = 0,
    pending: int = 0,
    purchase: Purchase | None = None,
    refund: Refund | None = None,
    reason: str = "",
) -> LedgerEntry:
    """Move the customer's balances by ``points`` and ``pending`` and write the entry."""
    return model_insert(
        entry_build(
            customer,
            kind=kind,
            points=points,
            pending=pending,
            purchase=purchase,
            refund=refund,
            reason=reason,
        )
    )


def entry_build(
    customer: Customer,
    *,
    kind: str,
    points: int = 0,
    pending: int = 0,
    purchase: Purchase | None = None,
    refund: Refund | None = None,
    reason: str = "",
) -> LedgerEntry:
    """:func:`entry_record` without the write: the balances move on ``customer`` and the
    unsaved entry is returned for the caller's :class:`~core.fast_sql.WriteBatch`. The caller
    writes both the entry and the customer's balances in its transaction."""
    customer.balance_points += points
    customer.pending_points += pending
    if customer.balance_points < 0 or customer.pending_points < 0:
        raise InsufficientPoints("The balance cannot go below zero.")
    return LedgerEntry(
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


def lots_consume_fifo(
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


def lot_create(
    customer: Customer,
    program: LoyaltyProgram,
    points: int,
    *,
    now: datetime,
    purchase: Purchase | None = None,
    deferred: bool = False,
) -> PointsLot:
    """Write a lot of ``points`` earned now (available at once, or after the credit delay)."""
    return model_insert(
        lot_build(customer, program, points, now=now, purchase=purchase, deferred=deferred)
    )


def lot_build(
    customer: Customer,
    program: LoyaltyProgram,
    points: int,
    *,
    now: datetime,
    purchase: Purchase | None = None,
    deferred: bool = False,
) -> PointsLot:
    """:func:`lot_create` without the write (for the caller's ``WriteBatch``)."""
    available_at = now + timedelta(days=program.credit_delay_days) if deferred else now
    expires_at = available_at + timedelta(days=program.expiry_days) if program.expiry_days else None
    return PointsLot(
        customer=customer,
        purchase=purchase,
        points=points,
        remaining=points,
        is_available=not deferred,
        available_at=available_at,
        expires_at=expires_at,
    )
