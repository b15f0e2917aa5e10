"""Refunds: all or part of a purchase, with its points moved back in proportion."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import ValidationFailed
from core.idempotency import Idempotency
from loyalty import pricing
from loyalty.errors import RefundNotAllowed
from loyalty.events import EventType
from loyalty.models import EntryKind, Merchant, PointsLot, Purchase, Refund
from loyalty.payloads import refunded_data
from loyalty.selectors import program_for, purchase_get
from loyalty.services.ledger import customer_lock, entry_record, lot_create, lots_consume_fifo
from outbox.services import outbox_event_record


def refund_create(
    *,
    merchant: Merchant,
    purchase_id: Any = None,
    order_id: str | None = None,
    amount_minor: int | None = None,
    idempotency: Idempotency[Refund] | None = None,
) -> Refund:
    """Refund all or part of a purchase, moving points in proportion to the refunded share.

    Redeemed points come back as a new lot; earned points are taken back from the purchase's own
    lot first, then oldest first. Points already spent cannot be taken back: the balance never
    goes negative and the shortfall is recorded on the refund (``earned_points_shortfall``).
    ``idempotency`` is entered first and completed with the refund in the refund's transaction.
    """
    if purchase_id is None and not order_id:
        msg = "Send purchase_id or order_id of the purchase to refund."
        raise ValidationFailed(msg, errors={"purchase_id": [msg]})
    if amount_minor is not None:
        pricing.amount_check(amount_minor, field="amount_minor")
    with transaction.atomic(durable=True):
        if idempotency is not None:
            idempotency.enter()
        found = purchase_get(merchant=merchant, purchase_id=purchase_id, order_id=order_id)
        # Lock order everywhere: customer, then purchase.
        customer = customer_lock(merchant=merchant, customer_id=found.customer_id)
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
            lot_create(customer, program, give_back, now=now)
            entry_record(
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
            from_balance = lots_consume_fifo(
                customer, reverse - from_pending, prefer_purchase=purchase
            )
            reversed_points = from_pending + from_balance
            entry_record(
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
            data=refunded_data(refund, balance_points=customer.balance_points),
            customer=customer,
        )
        # The answer shows the customer's balance after the refund: hand over the locked row.
        purchase.customer = customer
        if idempotency is not None:
            idempotency.complete(refund)
    return refund
