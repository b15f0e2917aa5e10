"""What the loyalty domain shows the outside: its events' ``data`` and the API's answers.

Each shape is declared once, here, as a ``TypedDict`` whose annotations carry what a schema needs
(:data:`Id`, :data:`Timestamp`, a :class:`Doc` help text, :class:`Choices`). The builder beside it
fills the shape from the models; mypy checks that it fills every declared key with the declared
type. The services hand the builders' dicts to the outbox as event data, and the integration API
answers the same dicts through serializers it derives from these declarations
(:func:`integrations.fields.payload_serializer`), so a field is named, typed and explained in one
place. Builders are plain dict construction, cheap enough for the purchase commit path.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, TypedDict

from loyalty import pricing
from loyalty.models import (
    Customer,
    EntryKind,
    LedgerEntry,
    LoyaltyProgram,
    Purchase,
    Refund,
    TelegramStatus,
)
from loyalty.selectors import ProgramTerms, program_terms, tier_for

# --- the vocabulary of a declaration ---------------------------------------------------------


@dataclass(frozen=True)
class Doc:
    """A field's help text (its ``description`` in the OpenAPI schema)."""

    text: str


class Format(enum.Enum):
    """What a string field holds, beyond being text."""

    UUID = "uuid"
    DATE_TIME = "date-time"


@dataclass(frozen=True)
class Choices:
    """A string field that holds one of these values (``(value, label)`` pairs)."""

    choices: tuple[tuple[str, str], ...]


#: An object id: a UUID as text.
Id = Annotated[str, Format.UUID]
#: A moment as ISO 8601 text, as ``datetime.isoformat()`` writes it.
Timestamp = Annotated[str, Format.DATE_TIME]

#: The help text every "balance after the change" field carries.
_BALANCE_AFTER = Doc("The customer's balance after it.")


# --- customers -------------------------------------------------------------------------------


class CustomerPayload(TypedDict):
    """A customer with their points."""

    id: Id
    phone: Annotated[str, Doc("E.164.")]
    name: str
    balance_points: Annotated[int, Doc("Spendable points.")]
    pending_points: Annotated[int, Doc("Earned points not yet spendable.")]
    tier: Annotated[str | None, Doc("The tier reached, if the program has tiers.")]
    telegram_linked: Annotated[bool, Doc("Whether the customer's Telegram is linked.")]
    created_at: Timestamp


def customer_payload(
    customer: Customer,
    *,
    program: LoyaltyProgram | None = None,
    terms: ProgramTerms | None = None,
) -> CustomerPayload:
    """The customer as the API and the ``customer.*`` events show it.

    The reached tier is ``terms``'s when the caller has read them with the customer; else it is
    read with the program in one statement, unless the caller has the ``program`` (a page of
    customers).
    """
    if terms is not None:
        tier = terms.tier
    elif program is None:
        tier = program_terms(
            merchant=customer.merchant, lifetime_spend_minor=customer.lifetime_spend_minor
        ).tier
    else:
        tier = tier_for(program=program, lifetime_spend_minor=customer.lifetime_spend_minor)
    return CustomerPayload(
        id=str(customer.id),
        phone=customer.phone,
        name=customer.name,
        balance_points=customer.balance_points,
        pending_points=customer.pending_points,
        tier=tier.name if tier else None,
        telegram_linked=customer.telegram_status == TelegramStatus.LINKED,
        created_at=customer.created_at.isoformat(),
    )


# --- purchases -------------------------------------------------------------------------------


class PurchasePayload(TypedDict):
    """A committed purchase."""

    id: Id
    order_id: str
    customer_id: Id
    amount_minor: int
    earned_points: int
    redeemed_points: int
    redeemed_minor: int
    refunded_minor: int
    balance_points: Annotated[int, _BALANCE_AFTER]
    outlet_id: Id | None
    device_id: Id | None
    manager_id: Id | None
    created_at: Timestamp


def purchase_payload(purchase: Purchase, *, balance_points: int) -> PurchasePayload:
    """The purchase as the API and ``purchase.committed`` show it."""
    return PurchasePayload(
        id=str(purchase.id),
        order_id=purchase.order_id,
        customer_id=str(purchase.customer_id),
        amount_minor=purchase.amount_minor,
        earned_points=purchase.earned_points,
        redeemed_points=purchase.redeemed_points,
        redeemed_minor=purchase.redeemed_minor,
        refunded_minor=purchase.refunded_minor,
        balance_points=balance_points,
        outlet_id=str(purchase.outlet_id) if purchase.outlet_id else None,
        device_id=str(purchase.device_id) if purchase.device_id else None,
        manager_id=str(purchase.manager_id) if purchase.manager_id else None,
        created_at=purchase.created_at.isoformat(),
    )


class QuotePayload(TypedDict):
    """The quote, and the customer it is for."""

    customer_id: Annotated[Id, Doc("Continue with this id after using a code.")]
    balance_points: Annotated[int, Doc("Spendable points now.")]
    amount_minor: int
    redeem_points: Annotated[int, Doc("Points that would be redeemed.")]
    redeemed_minor: Annotated[int, Doc("Money those points pay for.")]
    payable_minor: Annotated[int, Doc("What the customer pays in money.")]
    max_redeem_points: Annotated[int, Doc("The most points this purchase allows.")]
    earn_points: Annotated[int, Doc("Points the purchase would earn.")]
    earn_bps: Annotated[int, Doc("Earn rate applied, 500 = 5 %.")]
    tier: Annotated[str | None, Doc("The customer's tier, if any.")]


def quote_payload(*, customer: Customer, quote: pricing.Quote) -> QuotePayload:
    """A purchase quote as the API answers it (quotes are not events)."""
    return QuotePayload(
        customer_id=str(customer.id),
        balance_points=customer.balance_points,
        amount_minor=quote.amount_minor,
        redeem_points=quote.redeem_points,
        redeemed_minor=quote.redeemed_minor,
        payable_minor=quote.payable_minor,
        max_redeem_points=quote.max_redeem_points,
        earn_points=quote.earn_points,
        earn_bps=quote.earn_bps,
        tier=quote.tier,
    )


# --- refunds ---------------------------------------------------------------------------------


class RefundPayload(TypedDict):
    """A refund: how much of the purchase, and what became of its points."""

    id: Id
    purchase_id: Id
    order_id: str
    amount_minor: int
    earned_points_reversed: int
    earned_points_shortfall: Annotated[
        int, Doc("Earned points that could not be taken back (already spent).")
    ]
    redeemed_points_returned: int
    created_at: Timestamp


def refund_payload(refund: Refund) -> RefundPayload:
    return RefundPayload(
        id=str(refund.id),
        purchase_id=str(refund.purchase_id),
        order_id=refund.purchase.order_id,
        amount_minor=refund.amount_minor,
        earned_points_reversed=refund.earned_points_reversed,
        earned_points_shortfall=refund.earned_points_shortfall,
        redeemed_points_returned=refund.redeemed_points_returned,
        created_at=refund.created_at.isoformat(),
    )


class RefundedData(RefundPayload):
    """``purchase.refunded``: the refund, the purchase after it, and the customer's balance."""

    purchase: PurchasePayload
    balance_points: int


def refunded_data(refund: Refund, *, balance_points: int) -> RefundedData:
    return RefundedData(
        **refund_payload(refund),
        purchase=purchase_payload(refund.purchase, balance_points=balance_points),
        balance_points=balance_points,
    )


class RefundResultPayload(RefundPayload):
    """A refund and the customer's balance after it."""

    customer_id: Id
    balance_points: Annotated[int, _BALANCE_AFTER]


def refund_result_payload(refund: Refund) -> RefundResultPayload:
    """A refund as the API answers it. ``refund_create`` leaves the locked customer on
    ``refund.purchase``, so this reads the balance after the refund without a query."""
    customer = refund.purchase.customer
    return RefundResultPayload(
        **refund_payload(refund),
        customer_id=str(customer.id),
        balance_points=customer.balance_points,
    )


# --- points and the ledger -------------------------------------------------------------------


class LedgerEntryPayload(TypedDict):
    """One ledger entry: a change of the customer's points."""

    id: int
    kind: Annotated[str, Choices(tuple(EntryKind.choices))]
    points: Annotated[int, Doc("Change of the spendable balance.")]
    pending_points: Annotated[int, Doc("Change of not-yet-spendable points.")]
    balance_after: int
    purchase_id: Id | None
    refund_id: Id | None
    reason: str
    created_at: Timestamp


def ledger_entry_payload(entry: LedgerEntry) -> LedgerEntryPayload:
    return LedgerEntryPayload(
        id=entry.id,
        kind=entry.kind,
        points=entry.points,
        pending_points=entry.pending_points,
        balance_after=entry.balance_after,
        purchase_id=str(entry.purchase_id) if entry.purchase_id else None,
        refund_id=str(entry.refund_id) if entry.refund_id else None,
        reason=entry.reason,
        created_at=entry.created_at.isoformat(),
    )


class PointsAdjustedData(TypedDict):
    """``points.adjusted``: points added or removed by hand, and why."""

    customer_id: Id
    points: int
    reason: str
    balance_points: int


class PointsExpiredData(TypedDict):
    """``points.expired``: points whose lots ran out."""

    customer_id: Id
    points: int
    balance_points: int


class PointsExpiringData(TypedDict):
    """``points.expiring_soon``: points that expire within the reminder window."""

    customer_id: Id
    points: int
    expires_at: Timestamp
    balance_points: int
