"""Who owns the transaction: top-level services are durable, the bot's reuse is not; a one-time
code is consumed in the transaction of the purchase or quote that uses it."""

from __future__ import annotations

import pytest
from django.db import transaction

from core.errors import ValidationFailed
from loyalty.errors import CodeInvalid, InsufficientPoints
from loyalty.models import Customer, CustomerCode, Purchase
from loyalty.services import (
    customer_code_issue,
    customer_code_redeem,
    customer_telegram_link,
    purchase_calculate,
    purchase_commit,
    refund_create,
)
from tests.factories import make_customer, next_phone

pytestmark = pytest.mark.django_db


def _commit(setup, **kwargs):
    return purchase_commit(
        merchant=setup.merchant,
        amount_minor=100_00,
        order_id=kwargs.pop("order_id", "T-1"),
        outlet_id=setup.outlet.id,
        **kwargs,
    )


def test_purchase_by_code_consumes_the_code(setup, customer):
    code = customer_code_issue(customer=customer)
    purchase = _commit(setup, code=code)
    assert purchase.customer_id == customer.id
    assert purchase.customer.balance_points == 5  # the locked row, after the purchase
    with pytest.raises(CodeInvalid):
        _commit(setup, code=code, order_id="T-2")


def test_a_failed_purchase_leaves_the_code_usable(setup, customer):
    code = customer_code_issue(customer=customer)
    with pytest.raises(InsufficientPoints):
        _commit(setup, code=code, redeem_points=10)
    with pytest.raises(ValidationFailed):
        _commit(setup, code=code, order_id=" ")
    assert CustomerCode.objects.get(customer=customer).used_at is None
    assert _commit(setup, code=code).customer_id == customer.id


def test_a_failed_quote_leaves_the_code_usable(setup, customer):
    code = customer_code_issue(customer=customer)
    with pytest.raises(InsufficientPoints):
        purchase_calculate(merchant=setup.merchant, code=code, amount_minor=100, redeem_points=1)
    result = purchase_calculate(merchant=setup.merchant, code=code, amount_minor=100_00)
    assert result.customer == customer and result.quote.earn_points == 5
    with pytest.raises(CodeInvalid):
        purchase_calculate(merchant=setup.merchant, code=code, amount_minor=100_00)


def test_top_level_writes_refuse_to_run_inside_another_transaction(setup):
    customer = make_customer(setup.merchant, points=100)
    purchase = _commit(setup, customer_id=customer.id)
    code = customer_code_issue(customer=customer)
    with transaction.atomic():
        with pytest.raises(RuntimeError, match="durable"):
            _commit(setup, customer_id=customer.id, order_id="T-2")
        with pytest.raises(RuntimeError, match="durable"):
            refund_create(merchant=setup.merchant, purchase_id=purchase.id)
        with pytest.raises(RuntimeError, match="durable"):
            customer_code_redeem(merchant=setup.merchant, code=code)
        with pytest.raises(RuntimeError, match="durable"):  # it consumes the code
            purchase_calculate(merchant=setup.merchant, code=code, amount_minor=1)
        # By id a quote writes nothing, so it opens no transaction and runs anywhere.
        quote = purchase_calculate(merchant=setup.merchant, customer_id=customer.id, amount_minor=1)
        assert quote.customer == customer
    assert Purchase.objects.count() == 1


def test_the_telegram_link_runs_inside_the_bots_transaction(setup):
    # notifications.inbound handles an update in one transaction with marking it processed.
    phone = next_phone()
    with transaction.atomic():
        customer = customer_telegram_link(merchant=setup.merchant, phone=phone, chat_id=42)
        code = customer_code_issue(customer=customer)
    assert Customer.objects.get(phone=phone).telegram_chat_id == 42
    assert customer_code_redeem(merchant=setup.merchant, code=code).customer == customer
