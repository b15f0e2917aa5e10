"""Test data built through the services (the only writers), so rows are always consistent."""

from __future__ import annotations

import itertools

from loyalty.models import Customer, Merchant
from loyalty.services import MerchantSetup, customer_register, merchant_create, points_adjust

_phones = itertools.count(1000000)


def make_merchant(name: str = "Cafe", **program: int) -> MerchantSetup:
    setup = merchant_create(name=name)
    if program:
        type(setup.merchant.program).objects.filter(merchant=setup.merchant).update(**program)
        setup.merchant.program.refresh_from_db()
    return setup


def next_phone() -> str:
    return f"+7916{next(_phones):07d}"


def make_customer(merchant: Merchant, *, points: int = 0, phone: str | None = None) -> Customer:
    customer = customer_register(merchant=merchant, phone=phone or next_phone(), name="Ann")
    if points:
        points_adjust(merchant=merchant, customer_id=customer.id, points=points, reason="seed")
        customer.refresh_from_db()
    return customer
