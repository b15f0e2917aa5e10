"""Ledger invariants, earning, redeeming, refunds, tiers, deferred crediting and expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from core.errors import NotFound, ValidationFailed
from loyalty.errors import InsufficientPoints, RedeemCapExceeded, RefundNotAllowed
from loyalty.models import Customer, LedgerEntry, LoyaltyProgram, PointsLot, Purchase, Refund, Tier
from loyalty.services import (
    points_adjust,
    points_credit_matured,
    points_expire_due,
    purchase_commit,
    refund_create,
)
from outbox.models import OutboxEvent
from tests.factories import make_customer, make_merchant

pytestmark = pytest.mark.django_db


def assert_invariants(customer: Customer) -> None:
    customer.refresh_from_db()
    ledger = LedgerEntry.objects.filter(customer=customer).aggregate(
        p=Sum("points"), q=Sum("pending_points")
    )
    lots_available = (
        PointsLot.objects.filter(customer=customer, is_available=True).aggregate(
            s=Sum("remaining")
        )["s"]
        or 0
    )
    lots_pending = (
        PointsLot.objects.filter(customer=customer, is_available=False).aggregate(
            s=Sum("remaining")
        )["s"]
        or 0
    )
    assert (ledger["p"] or 0) == customer.balance_points == lots_available
    assert (ledger["q"] or 0) == customer.pending_points == lots_pending
    assert customer.balance_points >= 0 and customer.pending_points >= 0


def commit(setup, customer, amount, redeem=0, order=None, **kw):
    return purchase_commit(
        merchant=setup.merchant,
        customer_id=customer.id,
        amount_minor=amount,
        redeem_points=redeem,
        order_id=order or f"o-{Purchase.objects.count() + 1}",
        outlet_id=setup.outlet.id,
        **kw,
    )


def test_earn_on_purchase_writes_ledger_and_event(setup, customer):
    purchase = commit(setup, customer, 100_00)  # 5 % of 100.00 = 5.00 = 5 points
    assert purchase.earned_points == 5
    assert_invariants(customer)
    assert customer.balance_points == 5
    assert OutboxEvent.objects.filter(event_type="purchase.committed").count() == 1


def test_redeem_respects_balance_and_cap(setup):
    customer = make_customer(setup.merchant, points=100)
    with pytest.raises(InsufficientPoints):
        commit(setup, customer, 1000_00, redeem=101)
    with pytest.raises(RedeemCapExceeded):
        commit(setup, customer, 100_00, redeem=51)  # cap 50 % of 100.00 = 50 points
    assert Purchase.objects.count() == 0
    purchase = commit(setup, customer, 100_00, redeem=50)
    # paid 50.00 in money -> 5 % -> 2 points (floor of 2.5)
    assert purchase.earned_points == 2
    assert_invariants(customer)
    assert customer.balance_points == 100 - 50 + 2


def test_lines_that_do_not_earn_or_cannot_be_paid_with_points(setup):
    customer = make_customer(setup.merchant, points=1000)
    lines = [
        {"sku": "coffee", "amount_minor": 60_00},
        {"sku": "tobacco", "amount_minor": 40_00, "earns": False, "redeemable": False},
    ]
    with pytest.raises(RedeemCapExceeded):
        commit(setup, customer, 100_00, redeem=31, lines=lines)  # cap 50 % of 60.00
    purchase = commit(setup, customer, 100_00, redeem=30, lines=lines)
    # coffee paid 30.00 in money -> 1.50 -> 1 point; tobacco earns nothing
    assert purchase.earned_points == 1
    with pytest.raises(ValidationFailed):
        commit(setup, customer, 100_00, lines=[{"amount_minor": 10}])


@pytest.mark.parametrize("amount", [0, -1, 10_000_000_001, "100", 1.5, True])
def test_bad_amounts_write_nothing(setup, customer, amount):
    before = LedgerEntry.objects.count(), OutboxEvent.objects.count()
    with pytest.raises(ValidationFailed):
        commit(setup, customer, amount)
    assert (LedgerEntry.objects.count(), OutboxEvent.objects.count()) == before
    assert Purchase.objects.count() == 0


def test_purchase_requires_own_place_and_unique_order(setup, customer):
    other = make_merchant("Other")
    with pytest.raises(ValidationFailed):
        purchase_commit(
            merchant=setup.merchant, customer_id=customer.id, amount_minor=100, order_id="x"
        )
    with pytest.raises(ValidationFailed):
        purchase_commit(
            merchant=setup.merchant,
            customer_id=customer.id,
            amount_minor=100,
            order_id="x",
            outlet_id=other.outlet.id,
        )
    commit(setup, customer, 100, order="same")
    from core.errors import Conflict

    with pytest.raises(Conflict):
        commit(setup, customer, 100, order="same")


def test_other_merchants_customer_is_not_found(setup):
    other = make_merchant("Other")
    stranger = make_customer(other.merchant)
    with pytest.raises(NotFound):
        commit(setup, stranger, 100)


def test_partial_refunds_of_purchase_that_earned_and_redeemed(setup):
    customer = make_customer(setup.merchant, points=200)
    purchase = commit(setup, customer, 1000_00, redeem=100)  # paid 900.00 -> 45 points
    assert purchase.earned_points == 45
    assert_invariants(customer)
    r1 = refund_create(merchant=setup.merchant, purchase_id=purchase.id, amount_minor=333_33)
    # cumulative share 333.33/1000.00: earned floor(45*.33333)=14, redeemed floor(100*.33333)=33
    assert (r1.earned_points_reversed, r1.redeemed_points_returned) == (14, 33)
    assert_invariants(customer)
    r2 = refund_create(merchant=setup.merchant, order_id=purchase.order_id, amount_minor=333_33)
    assert (r2.earned_points_reversed, r2.redeemed_points_returned) == (15, 33)
    r3 = refund_create(merchant=setup.merchant, purchase_id=purchase.id)  # the rest
    assert r3.amount_minor == 333_34
    assert (r3.earned_points_reversed, r3.redeemed_points_returned) == (16, 34)
    customer.refresh_from_db()
    assert customer.balance_points == 200  # back where it began
    assert_invariants(customer)
    with pytest.raises(RefundNotAllowed):
        refund_create(merchant=setup.merchant, purchase_id=purchase.id)
    assert Refund.objects.count() == 3


def test_over_refund_refused_and_nothing_written(setup, customer):
    purchase = commit(setup, customer, 100_00)
    refund_create(merchant=setup.merchant, purchase_id=purchase.id, amount_minor=60_00)
    events = OutboxEvent.objects.count()
    with pytest.raises(RefundNotAllowed):
        refund_create(merchant=setup.merchant, purchase_id=purchase.id, amount_minor=40_01)
    assert OutboxEvent.objects.count() == events
    assert Refund.objects.count() == 1


def test_refund_of_other_merchants_purchase_is_not_found(setup, customer):
    purchase = commit(setup, customer, 100_00)
    other = make_merchant("Other")
    with pytest.raises(NotFound):
        refund_create(merchant=other.merchant, purchase_id=purchase.id)
    with pytest.raises(NotFound):
        refund_create(merchant=setup.merchant, purchase_id="not-a-uuid")


def test_refund_after_points_spent_never_goes_negative(setup, customer):
    purchase = commit(setup, customer, 1000_00)  # earns 50
    commit(setup, customer, 1000_00, redeem=50)  # spends them all, earns 47
    refund = refund_create(merchant=setup.merchant, purchase_id=purchase.id)
    assert refund.earned_points_reversed + refund.earned_points_shortfall == 50
    assert_invariants(customer)


def test_tiers_change_earn_rate(setup, customer):
    program = LoyaltyProgram.objects.get(merchant=setup.merchant)
    Tier.objects.create(program=program, name="silver", min_lifetime_spend_minor=0, earn_bps=500)
    Tier.objects.create(
        program=program, name="gold", min_lifetime_spend_minor=1000_00, earn_bps=1000
    )
    first = commit(setup, customer, 1000_00)
    second = commit(setup, customer, 100_00)
    assert (first.earned_points, second.earned_points) == (50, 10)


def test_deferred_crediting(setup, customer):
    LoyaltyProgram.objects.filter(merchant=setup.merchant).update(credit_delay_days=14)
    purchase = commit(setup, customer, 100_00)
    customer.refresh_from_db()
    assert (customer.balance_points, customer.pending_points) == (0, 5)
    assert_invariants(customer)
    assert points_credit_matured(now=timezone.now() + timedelta(days=13)) == 0
    # a partial refund while pending takes from the pending points
    refund_create(merchant=setup.merchant, purchase_id=purchase.id, amount_minor=50_00)
    customer.refresh_from_db()
    assert (customer.balance_points, customer.pending_points) == (0, 3)
    assert points_credit_matured(now=timezone.now() + timedelta(days=15)) == 1
    customer.refresh_from_db()
    assert (customer.balance_points, customer.pending_points) == (3, 0)
    assert_invariants(customer)


def test_expiry_consumes_oldest_lots_first(setup, customer):
    LoyaltyProgram.objects.filter(merchant=setup.merchant).update(expiry_days=30)
    points_adjust(merchant=setup.merchant, customer_id=customer.id, points=100, reason="old")
    PointsLot.objects.filter(customer=customer).update(
        expires_at=timezone.now() + timedelta(days=1)
    )
    points_adjust(merchant=setup.merchant, customer_id=customer.id, points=100, reason="new")
    commit(setup, customer, 1000_00, redeem=60)  # takes 60 from the old lot, earns 47
    expired = points_expire_due(now=timezone.now() + timedelta(days=2))
    assert expired == 40  # what was left of the old lot
    customer.refresh_from_db()
    assert customer.balance_points == 100 + 47
    assert_invariants(customer)
    assert OutboxEvent.objects.filter(event_type="points.expired").count() == 1


def test_negative_adjustment_above_balance_refused(setup, customer):
    with pytest.raises(InsufficientPoints):
        points_adjust(merchant=setup.merchant, customer_id=customer.id, points=-1, reason="x")
    assert LedgerEntry.objects.filter(customer=customer).count() == 0


def test_malformed_phone_refused(setup):
    from loyalty.services import customer_register

    with pytest.raises(ValidationFailed):
        customer_register(merchant=setup.merchant, phone="12", name="x")
    assert Customer.objects.count() == 0


def test_expiry_reminder_once_for_linked_customers_only(setup):
    from loyalty.services import customer_telegram_link, points_expiry_remind

    LoyaltyProgram.objects.filter(merchant=setup.merchant).update(expiry_days=5)
    linked = make_customer(setup.merchant, points=30)
    customer_telegram_link(merchant=setup.merchant, phone=linked.phone, chat_id=777, language="ru")
    make_customer(setup.merchant, points=40)  # not linked: marked, not told
    assert points_expiry_remind() == 1
    assert points_expiry_remind() == 0  # each lot once
    event = OutboxEvent.objects.get(event_type="points.expiring_soon")
    assert event.payload["data"]["points"] == 30
    deliveries = list(event.deliveries.values_list("channel", flat=True))
    assert deliveries == ["telegram"]  # never a webhook event type
    assert PointsLot.objects.filter(expiry_notified_at=None).count() == 0
