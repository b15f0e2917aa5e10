"""One transaction for the domain change and its outbox rows; concurrency on one account."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from django.db import DatabaseError, connection, connections
from django.db.models import Sum

from loyalty.errors import InsufficientPoints
from loyalty.models import Customer, LedgerEntry, LoyaltyProgram, Purchase
from loyalty.services import purchase_commit
from outbox.models import Delivery, OutboxEvent
from outbox.services import webhook_endpoint_create
from tests.factories import make_customer, make_merchant


@pytest.fixture
def shop(transactional_db):
    setup = make_merchant("Atomic")
    webhook_endpoint_create(merchant=setup.merchant, url="http://127.0.0.1:9/hook")
    return setup


def _sql(statement: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement)


def _counts():
    return (
        Purchase.objects.count(),
        LedgerEntry.objects.count(),
        OutboxEvent.objects.count(),
        Delivery.objects.count(),
    )


@contextmanager
def injected_failure(name: str, trigger: str):
    """A real PostgreSQL trigger raising ``injected <name>``; dropped afterwards."""
    _sql(
        f"CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN "
        f"RAISE EXCEPTION 'injected {name}'; END $$ LANGUAGE plpgsql"
    )
    _sql(trigger.format(name=name))
    try:
        yield
    finally:
        table = trigger.split(" ON ")[1].split()[0]
        _sql(f"DROP TRIGGER {name} ON {table}")
        _sql(f"DROP FUNCTION {name}()")


def _commit_fails_and_leaves_nothing(shop, name: str, trigger: str) -> None:
    customer = make_customer(shop.merchant, points=100)
    before = _counts()
    with injected_failure(name, trigger), pytest.raises(DatabaseError, match=f"injected {name}"):
        purchase_commit(
            merchant=shop.merchant,
            customer_id=customer.id,
            amount_minor=100_00,
            redeem_points=10,
            order_id=name,
            outlet_id=shop.outlet.id,
        )
    assert _counts() == before
    customer.refresh_from_db()
    assert customer.balance_points == 100


def test_failure_writing_the_outbox_leaves_no_domain_row(shop):
    _commit_fails_and_leaves_nothing(
        shop,
        "outbox_failure",
        "CREATE TRIGGER {name} BEFORE INSERT ON outbox_delivery FOR EACH ROW EXECUTE FUNCTION {name}()",
    )


def test_failure_after_the_domain_write_leaves_no_outbox_row(shop):
    # A deferred constraint trigger fails at COMMIT, after every row has been written.
    _commit_fails_and_leaves_nothing(
        shop,
        "commit_failure",
        "CREATE CONSTRAINT TRIGGER {name} AFTER INSERT ON loyalty_purchase "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {name}()",
    )


def test_fifty_concurrent_redeems_never_overdraw(transactional_db):
    setup = make_merchant("Busy", earn_bps=0)
    assert LoyaltyProgram.objects.get(merchant=setup.merchant).earn_bps == 0
    customer = make_customer(setup.merchant, points=300)
    barrier = threading.Barrier(50)
    results: list[str] = []
    lock = threading.Lock()

    def redeem(i: int) -> None:
        try:
            barrier.wait()
            purchase_commit(
                merchant=setup.merchant,
                customer_id=customer.id,
                amount_minor=100_00,
                redeem_points=10,
                order_id=f"c-{i}",
                outlet_id=setup.outlet.id,
            )
            outcome = "ok"
        except InsufficientPoints:
            outcome = "insufficient"
        finally:
            connections.close_all()
        with lock:
            results.append(outcome)

    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(redeem, range(50)))
    assert results.count("ok") == 30 and results.count("insufficient") == 20
    customer = Customer.objects.get(id=customer.id)
    assert customer.balance_points == 0
    total = LedgerEntry.objects.filter(customer=customer).aggregate(s=Sum("points"))["s"]
    assert total == customer.balance_points
    assert Purchase.objects.filter(customer=customer).count() == 30
