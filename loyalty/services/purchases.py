"""Purchases: where they happened, the earn/redeem quote, and the commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import ApplicationError, Conflict, ValidationFailed
from core.fast_sql import WriteBatch, model_row
from core.idempotency import Idempotency
from core.local_cache import LocalCache
from loyalty import pricing
from loyalty.events import EventType
from loyalty.models import (
    Customer,
    Device,
    EntryKind,
    Manager,
    Merchant,
    Outlet,
    Purchase,
)
from loyalty.payloads import purchase_payload
from loyalty.selectors import ProgramTerms, customer_get, program_terms
from loyalty.services.customers import customer_code_consume
from loyalty.services.ledger import (
    customer_lock_with_terms,
    entry_build,
    lot_build,
    lots_consume_fifo,
)
from outbox.services import outbox_event_add


@dataclass(frozen=True)
class PlaceRefs:
    outlet: Outlet | None
    device: Device | None
    manager: Manager | None


def place_resolve(
    *, merchant: Merchant, outlet_id: Any = None, device_id: Any = None, manager_id: Any = None
) -> PlaceRefs:
    """Check the outlet/device/manager ids are the merchant's and active; one is required."""
    if not (outlet_id or device_id or manager_id):
        msg = "Send one of outlet_id, device_id or manager_id to say where the purchase happened."
        raise ValidationFailed(msg, errors={"outlet_id": [msg]})

    def fetch(model: Any, value: Any, field: str) -> Any:
        if not value:
            return None
        try:
            obj = _place_row(model, merchant.id, uuid.UUID(str(value)))
        except ValueError:
            obj = None
        if obj is None:
            raise ValidationFailed(
                f"{field} {value} is not one of this merchant's.",
                errors={field: [f"Use a {field.removesuffix('_id')} id of your own merchant."]},
            )
        if not obj.is_active:
            raise ValidationFailed(
                f"{field} {value} is deactivated; new purchases cannot be recorded there.",
                errors={field: [f"Use an active {field.removesuffix('_id')}."]},
            )
        return obj

    device = fetch(Device, device_id, "device_id")
    outlet = fetch(Outlet, outlet_id, "outlet_id") or (
        _place_row(Outlet, merchant.id, device.outlet_id) if device else None
    )
    return PlaceRefs(outlet=outlet, device=device, manager=fetch(Manager, manager_id, "manager_id"))


def _place_cache_seconds() -> float:
    return float(settings.PLACE_CACHE_SECONDS)


#: Places by model, merchant and id (a miss too), as the API key rows are cached
#: (``core.local_cache``): a register names the same outlet on every purchase. A place saved or
#: deleted through the ORM (the services, the admin, the portal) is dropped at once here and
#: within about a second in the other processes (loyalty/apps.py); a plain UPDATE shows within
#: ``PLACE_CACHE_SECONDS``. The rows are shared by the process's threads: read them only.
place_cache: LocalCache[Any] = LocalCache("places", max_age=_place_cache_seconds)


def _place_row(model: Any, merchant_id: Any, place_id: uuid.UUID) -> Any:
    key = f"{model._meta.model_name}:{merchant_id}:{place_id}"
    return place_cache.get(key, lambda: model_row(model, merchant_id=merchant_id, id=place_id))


def purchase_quote(
    *,
    merchant: Merchant,
    customer: Customer,
    amount_minor: int,
    redeem_points: int = 0,
    lines: list[dict[str, Any]] | None = None,
    terms: ProgramTerms | None = None,
) -> pricing.Quote:
    """Earn/redeem figures for a purchase; writes nothing.

    ``terms`` (program and reached tier) are read in one statement unless the caller has them.
    """
    terms = terms or program_terms(
        merchant=merchant, lifetime_spend_minor=customer.lifetime_spend_minor
    )
    program, tier = terms.program, terms.tier
    return pricing.quote_compute(
        lines=pricing.lines_parse(amount_minor, lines),
        redeem_points=redeem_points,
        balance_points=customer.balance_points,
        earn_bps=tier.earn_bps if tier else program.earn_bps,
        redeem_cap_bps=program.redeem_cap_bps,
        minor_per_point=program.minor_per_point,
        tier=tier.name if tier else None,
    )


@dataclass(frozen=True)
class Calculation:
    """A quote and the customer it is for."""

    customer: Customer
    quote: pricing.Quote


def purchase_calculate(
    *,
    merchant: Merchant,
    customer_id: Any = None,
    code: str | None = None,
    amount_minor: int,
    redeem_points: int = 0,
    lines: list[dict[str, Any]] | None = None,
) -> Calculation:
    """Quote a purchase for a customer given by id or one-time code; writes nothing else.

    A code is consumed by the first call that uses it; the register continues with the returned
    customer id. If the quote fails, the code is not consumed (one transaction).
    """

    def quoted(customer: Customer) -> Calculation:
        quote = purchase_quote(
            merchant=merchant,
            customer=customer,
            amount_minor=amount_minor,
            redeem_points=redeem_points,
            lines=lines,
        )
        return Calculation(customer=customer, quote=quote)

    if code is None:
        # Two reads and nothing written: no transaction (BEGIN and COMMIT would be two more
        # round trips on a hot call). The program's terms are read after the customer, as a
        # commit reads them after its lock; a change in between is a race the quote may lose
        # either way.
        return quoted(customer_get(merchant=merchant, customer_id=customer_id))
    with transaction.atomic(durable=True):
        return quoted(customer_code_consume(merchant=merchant, code=code))


def purchase_commit(
    *,
    merchant: Merchant,
    customer_id: Any = None,
    code: str | None = None,
    amount_minor: int,
    order_id: str,
    redeem_points: int = 0,
    lines: list[dict[str, Any]] | None = None,
    outlet_id: Any = None,
    device_id: Any = None,
    manager_id: Any = None,
    idempotency: Idempotency[Purchase] | None = None,
) -> Purchase:
    """Commit a purchase: redeem (oldest lots first), earn (possibly deferred), announce it.

    The customer is given by id or by one-time ``code``. The code is consumed in the purchase's
    transaction, so a purchase that fails leaves it usable; ``idempotency`` is entered first and
    completed with the purchase in that transaction too.
    """
    order_id = str(order_id or "").strip()
    entered = False  # past the key: the errors from here on are the purchase's
    try:
        with transaction.atomic(durable=True):
            if idempotency is not None:
                idempotency.enter()
            entered = True
            if code is not None:
                customer_id = customer_code_consume(merchant=merchant, code=code).id
            purchase = _purchase_record(
                merchant=merchant,
                customer_id=customer_id,
                amount_minor=amount_minor,
                order_id=order_id,
                redeem_points=redeem_points,
                lines=lines,
                outlet_id=outlet_id,
                device_id=device_id,
                manager_id=manager_id,
                idempotency=idempotency,
            )
    except IntegrityError as exc:
        if "purchase_order_per_merchant" in str(exc):
            raise _order_conflict(merchant, order_id) from None
        cause = exc.__cause__
        if isinstance(cause, psycopg.errors.ForeignKeyViolation):
            # A place deleted while another process still had it cached (place_cache).
            place_cache.invalidate()
            constraint = cause.diag.constraint_name or ""
            field = next((f for f in ("device_id", "manager_id") if f in constraint), "outlet_id")
            msg = f"The {field.removesuffix('_id')} named was just removed."
            raise ValidationFailed(
                f"{msg} Send the purchase again with one that exists.",
                errors={field: [f"{msg} Use one of this merchant's current places."]},
            ) from None
        raise
    except ApplicationError:
        # A repeat of a committed order is answered as such (409) whatever else it would fail
        # on now (the points it redeemed are gone, its code was used): the register learns the
        # order went through instead of being told to take points the customer no longer has.
        # Looked up only on this error path, after the transaction rolled back.
        if (
            entered
            and order_id
            and Purchase.objects.filter(merchant=merchant, order_id=order_id).exists()
        ):
            raise _order_conflict(merchant, order_id) from None
        raise
    return purchase


def _purchase_record(
    *,
    merchant: Merchant,
    customer_id: Any,
    amount_minor: int,
    order_id: str,
    redeem_points: int,
    lines: list[dict[str, Any]] | None,
    outlet_id: Any,
    device_id: Any,
    manager_id: Any,
    idempotency: Idempotency[Purchase] | None,
) -> Purchase:
    """Check the purchase, then write it, its lots and ledger entries, its event and the
    idempotency answer, in one batch."""
    if not order_id or len(order_id) > 100:
        raise ValidationFailed(
            "order_id is required (1-100 characters).",
            errors={"order_id": ["Send your register's order number, unique per merchant."]},
        )
    parsed_lines = pricing.lines_parse(amount_minor, lines)
    places = place_resolve(
        merchant=merchant, outlet_id=outlet_id, device_id=device_id, manager_id=manager_id
    )
    customer, terms = customer_lock_with_terms(merchant=merchant, customer_id=customer_id)
    # No exists() on the order id first: the unique constraint purchase_order_per_merchant
    # answers a repeat (purchase_commit maps its IntegrityError to the same 409) for one
    # statement less, and it is the only check that holds against a concurrent commit anyway.
    program = terms.program
    quote = purchase_quote(
        merchant=merchant,
        customer=customer,
        amount_minor=amount_minor,
        redeem_points=redeem_points,
        lines=[line.__dict__ for line in parsed_lines],
        terms=terms,
    )
    now = timezone.now()
    # The writes go out as one statement (core.fast_sql.WriteBatch) after the reads above and
    # the redeem's lot updates: purchase, lot, ledger entries, balance, event and deliveries.
    writes = WriteBatch()
    purchase = writes.insert(
        Purchase(
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
    )
    if quote.redeem_points:
        taken = lots_consume_fifo(customer, quote.redeem_points)
        if taken != quote.redeem_points:  # lots disagree with the cached balance
            raise RuntimeError(f"lots hold {taken} of {quote.redeem_points} points")
        writes.insert(
            entry_build(
                customer, kind=EntryKind.REDEEM, points=-quote.redeem_points, purchase=purchase
            )
        )
    if quote.earn_points:
        deferred = program.credit_delay_days > 0
        writes.insert(
            lot_build(
                customer, program, quote.earn_points, now=now, purchase=purchase, deferred=deferred
            )
        )
        writes.insert(
            entry_build(
                customer,
                kind=EntryKind.EARN,
                points=0 if deferred else quote.earn_points,
                pending=quote.earn_points if deferred else 0,
                purchase=purchase,
            )
        )
    customer.lifetime_spend_minor += amount_minor
    writes.update(
        customer, ("balance_points", "pending_points", "lifetime_spend_minor", "updated_at")
    )
    outbox_event_add(
        writes,
        merchant=merchant,
        event_type=EventType.PURCHASE_COMMITTED,
        data=purchase_payload(purchase, balance_points=customer.balance_points),
        customer=customer,
    )
    # The answer shows the customer's balance after the purchase: keep the locked row on it.
    purchase.customer = customer
    if idempotency is not None:
        idempotency.complete_in(writes, purchase)
    writes.send()
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
