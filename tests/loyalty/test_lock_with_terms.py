"""customer_lock_with_terms: the commit's one-statement read gives what the two calls give."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core.errors import NotFound
from loyalty.models import LoyaltyProgram, Tier
from loyalty.selectors import program_for, program_terms
from loyalty.services.ledger import customer_lock, customer_lock_with_terms
from tests.factories import make_customer, make_merchant

pytestmark = pytest.mark.django_db


def _fields(instance):
    if instance is None:
        return None
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


@pytest.mark.parametrize("spend", [0, 9_999, 10_000, 50_000, 10**9])
def test_the_same_customer_program_and_tier_as_the_two_calls(spend):
    setup = make_merchant("Terms")
    program = program_for(setup.merchant)
    Tier.objects.create(
        program=program, name="Silver", min_lifetime_spend_minor=10_000, earn_bps=700
    )
    Tier.objects.create(program=program, name="Gold", min_lifetime_spend_minor=50_000, earn_bps=900)
    customer = make_customer(setup.merchant)
    type(customer).objects.filter(id=customer.id).update(lifetime_spend_minor=spend)
    with transaction.atomic():
        with CaptureQueriesContext(connection) as seen:
            locked, terms = customer_lock_with_terms(
                merchant=setup.merchant, customer_id=customer.id
            )
        if connection.vendor == "postgresql":
            (sql,) = [q["sql"] for q in seen.captured_queries]
            assert sql.endswith("FOR UPDATE OF c")
        expected = program_terms(merchant=setup.merchant, lifetime_spend_minor=spend)
        assert _fields(locked) == _fields(
            customer_lock(merchant=setup.merchant, customer_id=customer.id)
        )
        assert _fields(terms.program) == _fields(expected.program)
        assert _fields(terms.tier) == _fields(expected.tier)
        assert (terms.tier.name if terms.tier else None) == (
            {0: None, 9_999: None, 10_000: "Silver", 50_000: "Gold"}.get(spend, "Gold")
        )


def test_a_merchant_without_a_program_row_gets_the_default_one():
    setup = make_merchant("Fresh")
    LoyaltyProgram.objects.filter(merchant=setup.merchant).delete()
    customer = make_customer(setup.merchant)
    with transaction.atomic():
        locked, terms = customer_lock_with_terms(merchant=setup.merchant, customer_id=customer.id)
    assert locked.id == customer.id and terms.tier is None
    assert terms.program.pk == LoyaltyProgram.objects.get(merchant=setup.merchant).pk


@pytest.mark.parametrize("customer_id", ["not-a-uuid", str(uuid.uuid4()), "other"])
def test_nobody_else_is_found(customer_id):
    setup, other = make_merchant("Mine"), make_merchant("Theirs")
    if customer_id == "other":
        customer_id = make_customer(other.merchant).id
    with transaction.atomic(), pytest.raises(NotFound):
        customer_lock_with_terms(merchant=setup.merchant, customer_id=customer_id)
