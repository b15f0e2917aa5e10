"""Customers: registration by phone, the Telegram link, and one-time codes for the register."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.errors import Conflict
from core.idempotency import Idempotency
from loyalty.errors import CodeInvalid
from loyalty.events import EventType
from loyalty.models import Customer, CustomerCode, Merchant, TelegramStatus
from loyalty.payloads import customer_payload
from loyalty.phones import phone_normalize
from loyalty.selectors import (
    ProgramTerms,
    customer_get,
    customer_terms_from_row,
    customer_terms_sql,
    program_terms,
)
from outbox.services import outbox_event_record

#: How long a one-time customer code stays valid.
CUSTOMER_CODE_TTL = timedelta(seconds=300)
#: Digits in a one-time customer code (typed by a cashier or scanned).
CUSTOMER_CODE_DIGITS = 9


def customer_register(
    *,
    merchant: Merchant,
    phone: str,
    name: str = "",
    idempotency: Idempotency[Customer] | None = None,
) -> Customer:
    """Register a customer by phone; a phone already registered is a :class:`Conflict`.

    Not durable: set-up commands register their demo customer inside their own transaction.
    From the API this is the outermost transaction, so the customer and the stored answer of
    ``idempotency`` commit together.
    """
    with transaction.atomic():
        if idempotency is not None:
            idempotency.enter()
        customer = _customer_create(merchant=merchant, phone=phone, name=name)
        if idempotency is not None:
            idempotency.complete(customer)
    return customer


def _customer_create(*, merchant: Merchant, phone: str, name: str) -> Customer:
    """The registration itself, in the caller's transaction (the Telegram link reuses it)."""
    e164 = phone_normalize(phone)
    existing = Customer.objects.filter(merchant=merchant, phone=e164).first()
    if existing is not None:
        raise _phone_taken(e164, existing)
    try:
        with transaction.atomic():
            customer = Customer.objects.create(
                merchant=merchant, phone=e164, name=name.strip()[:200]
            )
    except IntegrityError:
        # A concurrent registration of the same phone won the unique constraint.
        raise _phone_taken(e164, Customer.objects.get(merchant=merchant, phone=e164)) from None
    outbox_event_record(
        merchant=merchant,
        event_type=EventType.CUSTOMER_CREATED,
        data=customer_payload(customer),
        customer=customer,
    )
    return customer


def _phone_taken(e164: str, existing: Customer) -> Conflict:
    return Conflict(
        f"Phone {e164} is already registered as customer {existing.id}.",
        extra={"customer_id": str(existing.id)},
    )


# Not durable: the bot handles an update in one transaction with marking it processed.
@transaction.atomic
def customer_telegram_link(
    *, merchant: Merchant, phone: str, chat_id: int, name: str = "", language: str = ""
) -> Customer:
    """Link a Telegram chat to the merchant's customer with this phone, registering if new."""
    e164 = phone_normalize(phone)
    customer = Customer.objects.select_for_update().filter(merchant=merchant, phone=e164).first()
    if customer is None:
        customer = _customer_create(merchant=merchant, phone=e164, name=name)
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


def customer_code_redeem(
    *,
    merchant: Merchant,
    code: str,
    now: datetime | None = None,
    idempotency: Idempotency[CustomerTerms] | None = None,
) -> CustomerTerms:
    """The customer behind a one-time code (single use, short-lived), consuming the code; with
    the program's terms for them (the API shows the reached tier).

    Without ``idempotency`` on PostgreSQL it is ONE statement in autocommit (the conditional
    UPDATE as a CTE, the customer, program and tier read from its row), atomic by itself; with
    it, the completion joins the consumption in one durable transaction.
    """
    if idempotency is None and connection.vendor == "postgresql":
        # Inside another atomic block, Django's durable atomic refuses as it does for every
        # top-level write (a test's transaction is allowed, as Django allows it).
        durable = transaction.atomic(durable=True) if connection.in_atomic_block else nullcontext()
        with durable, connection.cursor() as cursor:
            cursor.execute(_code_redeem_sql(), _code_params(merchant, code, now or timezone.now()))
            row = cursor.fetchone()
        if row is None:
            raise _code_invalid()
        return CustomerTerms(*customer_terms_from_row(merchant, row))
    with transaction.atomic(durable=True):
        if idempotency is not None:
            idempotency.enter()
        customer = customer_code_consume(merchant=merchant, code=code, now=now)
        result = CustomerTerms(
            customer,
            program_terms(merchant=merchant, lifetime_spend_minor=customer.lifetime_spend_minor),
        )
        if idempotency is not None:
            idempotency.complete(result)
    return result


@dataclass(frozen=True)
class CustomerTerms:
    """A customer and the program's terms for them (the reached tier)."""

    customer: Customer
    terms: ProgramTerms


def customer_code_consume(
    *, merchant: Merchant, code: str, now: datetime | None = None
) -> Customer:
    """Resolve and consume a code by a conditional update, in the caller's transaction.

    A purchase or quote that uses the code consumes it in its own transaction, so that a
    failed one leaves the code usable.
    """
    with connection.cursor() as cursor:
        cursor.execute(_code_consume_sql(), _code_params(merchant, code, now or timezone.now()))
        claimed = cursor.fetchone()
    if claimed is None:
        raise _code_invalid()
    return customer_get(merchant=merchant, customer_id=claimed[0])


def _code_invalid() -> CodeInvalid:
    return CodeInvalid(
        "The code is unknown, already used or expired. Ask the customer to open a new code "
        "in the bot (/code)."
    )


def _code_params(merchant: Merchant, code: str, now: datetime) -> list[Any]:
    """The values of :func:`_code_consume_sql`: the time, the merchant, the code's hash."""
    code = str(code).strip().replace(" ", "").replace("-", "")
    at = connection.ops.adapt_datetimefield_value(now)
    merchant_id = CustomerCode._meta.get_field("merchant").get_db_prep_value(
        merchant.id, connection
    )
    return [at, merchant_id, _code_hash(merchant.id, code), at]


@cache
def _code_consume_sql() -> str:
    """The conditional UPDATE of :func:`customer_code_consume`, answering the customer's id."""
    quote = connection.ops.quote_name
    # Only the model's own table name is formatted in; every value is a parameter.
    return (
        f"UPDATE {quote(CustomerCode._meta.db_table)} SET used_at = %s "  # noqa: S608
        "WHERE merchant_id = %s AND code_hash = %s AND used_at IS NULL AND expires_at > %s "
        "RETURNING customer_id"
    )


@cache
def _code_redeem_sql() -> str:
    """:func:`_code_consume_sql` as a CTE, and the customer with its terms read from its row
    (PostgreSQL: the UPDATE runs whatever the SELECT reads; they see the same snapshot, and
    the UPDATE changes none of the rows read)."""
    customers = connection.ops.quote_name(Customer._meta.db_table)
    return f"WITH used AS ({_code_consume_sql()}) " + customer_terms_sql(
        customers_from=f"used JOIN {customers} c ON c.id = used.customer_id", where="true"
    )
