"""End-to-end delivery: services commit, a real relay and a real Dramatiq worker deliver to a
real HTTP receiver on loopback, signatures verified with the ``standardwebhooks`` library.

The representative tests of delivery, retry, pause, ordering and a worker SIGKILL run on both
brokers (``broker``: Redis, RabbitMQ), and so does a PostgreSQL restart mid-stream; the rest on
Redis only, as their subject (the retry policy's details, replay, Redis going away) does not
depend on the broker. A
RabbitMQ restart mid-stream, graceful and hard, is in ``tests/scaleout/test_rabbitmq_restart.py``.
"""

from __future__ import annotations

import json
import signal
import time

import pytest
from standardwebhooks import Webhook

from loyalty.services import purchase_commit
from outbox.models import Attempt, Delivery, DeliveryStatus
from outbox.services import outbox_pause, outbox_replay, outbox_resume, webhook_endpoint_create
from tests.factories import make_customer, make_merchant
from tests.fixtures.brokers import BROKERS
from tests.fixtures.processes import wait_until

pytestmark = pytest.mark.slow


def _commit(setup, customer, order: str, amount: int = 100_00):
    return purchase_commit(
        merchant=setup.merchant,
        customer_id=customer.id,
        amount_minor=amount,
        order_id=order,
        outlet_id=setup.outlet.id,
    )


@pytest.fixture
def shop(transactional_db, receiver):
    setup = make_merchant("Shop")
    endpoint, secret = webhook_endpoint_create(merchant=setup.merchant, url=receiver.url)
    customer = make_customer(setup.merchant)
    return setup, endpoint, secret, customer


@pytest.mark.parametrize("broker", BROKERS, indirect=True)
def test_signed_delivery_verifies_with_standardwebhooks(stack, broker, receiver, shop):
    setup, endpoint, secret, customer = shop
    stack.worker()
    stack.relay()
    purchase = _commit(setup, customer, "A-1")
    got = receiver.wait_for(2)  # customer.created, purchase.committed
    by_type = {r.json()["type"]: r for r in got}
    hit = by_type["purchase.committed"]
    payload = Webhook(secret).verify(hit.body, hit.headers)
    assert payload["data"]["id"] == str(purchase.id)
    assert payload["data"]["amount_minor"] == 100_00 and payload["data"]["order_id"] == "A-1"
    assert hit.headers["webhook-id"].startswith("msg_")
    wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 2)


@pytest.mark.parametrize("broker", BROKERS, indirect=True)
def test_500_then_success_keeps_one_webhook_id(stack, broker, receiver, shop):
    setup, endpoint, secret, customer = shop
    receiver.respond = lambda req, n: (500, {}, b"boom", 0) if n <= 3 else (200, {}, b"ok", 0)
    stack.worker()
    stack.relay()
    receiver.wait_for(4)
    # customer.created failed 3 times and then succeeded: one id for all four requests
    assert len(set(receiver.ids()[:4])) == 1
    wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 1)
    delivery = Delivery.objects.get()
    assert delivery.attempts == 4
    assert list(
        Attempt.objects.filter(delivery=delivery)
        .values_list("status_code", flat=True)
        .order_by("id")
    ) == [500, 500, 500, 200]


def test_retry_after_is_honoured(stack, receiver, shop):
    receiver.respond = lambda req, n: (
        (429, {"Retry-After": "2"}, b"slow down", 0) if n == 1 else (200, {}, b"", 0)
    )
    stack.worker()
    stack.relay()
    got = receiver.wait_for(2)
    gap = got[1].at - got[0].at
    assert 1.9 <= gap < 6.0, gap  # 2 s plus at most one relay poll and a busy CI machine


def test_timeout_then_dead_after_schedule(stack, receiver, shop):
    # test schedule: 4 tries (0,1,1,1); the receiver hangs longer than the 2 s client timeout
    receiver.respond = lambda req, n: (200, {}, b"", 3.0)
    stack.worker(threads=2)
    stack.relay()
    wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.DEAD).count() == 1, timeout=40)
    delivery = Delivery.objects.get()
    assert delivery.attempts == 4
    assert set(Attempt.objects.filter(delivery=delivery).values_list("error_class", flat=True)) == {
        "ReadTimeout"
    }


def test_abort_header_stops_retries(stack, receiver, shop):
    receiver.respond = lambda req, n: (400, {"webhook-delivery": "abort-message"}, b"no", 0)
    stack.worker()
    stack.relay()
    wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.DEAD).count() == 1)
    time.sleep(1.5)
    assert len(receiver.requests) == 1


def test_gone_disables_endpoint(stack, receiver, shop):
    setup, endpoint, secret, customer = shop
    receiver.respond = lambda req, n: (410, {}, b"gone", 0)
    stack.worker()
    stack.relay()
    wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.DEAD).count() == 1)
    endpoint.refresh_from_db()
    assert not endpoint.is_enabled and "410" in endpoint.disabled_reason


@pytest.mark.parametrize(
    ("scope", "broker"),
    [
        ("global", "redis"),
        ("merchant", "redis"),
        ("endpoint", "redis"),
        ("channel", "redis"),
        ("merchant", "rabbitmq"),  # the scopes are the relay's business: one on RabbitMQ
    ],
    indirect=["broker"],
)
def test_pause_holds_and_resume_delivers_in_order(stack, broker, receiver, shop, scope):
    setup, endpoint, secret, customer = shop
    kwargs = {
        "global": {},
        "merchant": {"merchant_id": str(setup.merchant.id)},
        "endpoint": {"endpoint_id": str(endpoint.id)},
        "channel": {"channel": "webhook"},
    }[scope]
    outbox_pause(reason="receiver maintenance", actor="test", **kwargs)
    stack.worker()
    stack.relay()
    for i in range(5):
        _commit(setup, customer, f"P-{i}")
    time.sleep(2.0)
    assert receiver.requests == []
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 6
    outbox_resume(actor="test", **kwargs)
    got = receiver.wait_for(6)
    orders = [
        r.json()["data"].get("order_id") for r in got if r.json()["type"] == "purchase.committed"
    ]
    assert orders == [f"P-{i}" for i in range(5)]


@pytest.mark.parametrize("broker", BROKERS, indirect=True)
def test_ordering_per_customer_holds_while_earlier_retries(stack, broker, receiver, shop):
    setup, endpoint, secret, customer = shop
    other = make_customer(setup.merchant)
    failing = {"n": 0}

    def respond(req, n):
        body = req.json()
        if (
            body["type"] == "purchase.committed"
            and body["data"]["order_id"] == "O-1"
            and failing["n"] < 2
        ):
            failing["n"] += 1
            return 503, {}, b"busy", 0
        return 200, {}, b"", 0

    receiver.respond = respond
    stack.worker()
    stack.relay()
    _commit(setup, customer, "O-1")
    _commit(setup, customer, "O-2")
    _commit(setup, other, "X-1")
    wait_until(
        lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 5, timeout=30
    )
    mine = [
        r.json()["data"]["order_id"]
        for r in receiver.requests
        if r.json()["type"] == "purchase.committed"
        and r.json()["data"]["customer_id"] == str(customer.id)
    ]
    assert mine == ["O-1", "O-1", "O-1", "O-2"]


def test_two_relays_never_claim_the_same_row(stack, receiver, shop):
    setup, endpoint, secret, customer = shop
    customers = [make_customer(setup.merchant) for _ in range(10)]
    for i, c in enumerate(customers * 5):
        _commit(setup, c, f"R-{i}")
    total = Delivery.objects.count()
    stack.worker(threads=8)
    stack.relay("relay-a")
    stack.relay("relay-b")
    wait_until(
        lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == total,
        timeout=40,
    )
    assert len(receiver.requests) == total
    assert len(set(receiver.ids())) == total


@pytest.mark.parametrize("broker", BROKERS, indirect=True)
def test_worker_killed_mid_delivery_is_redelivered_with_same_id(stack, broker, receiver, shop):
    setup, endpoint, secret, customer = shop
    receiver.respond = lambda req, n: (200, {}, b"", 30.0) if n == 1 else (200, {}, b"", 0)
    stack.worker("worker-1")
    stack.relay()
    receiver.wait_for(1, timeout=60)  # both processes booted (slow on a busy machine)
    stack.stop("worker-1", sig=signal.SIGKILL)
    stack.worker("worker-2")
    got = receiver.wait_for(2, timeout=30)  # after the 6 s lease expired
    assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
    wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 1)


def test_redis_restart_mid_stream_loses_nothing(stack, receiver, shop):
    import os
    import subprocess

    setup, endpoint, secret, customer = shop
    services = os.environ.get("SERVICES_DIR")
    if not services:
        pytest.fail("SERVICES_DIR is not set: run through make test")
    stack.worker()
    stack.relay()
    for i in range(10):
        _commit(setup, customer, f"B-{i}")
    subprocess.run([".ci/services.sh", "redis-stop", services], check=True, capture_output=True)
    for i in range(10, 20):
        _commit(setup, customer, f"B-{i}")
    time.sleep(2)
    subprocess.run([".ci/services.sh", "redis-start", services], check=True, capture_output=True)
    total = Delivery.objects.count()
    wait_until(
        lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == total,
        timeout=60,
    )
    orders = {r.json()["data"].get("order_id") for r in receiver.requests}
    assert {f"B-{i}" for i in range(20)} <= orders


def test_replay_keeps_webhook_id(stack, receiver, shop):
    receiver.respond = lambda req, n: (500, {}, b"", 0) if n <= 4 else (200, {}, b"", 0)
    stack.worker()
    stack.relay()
    wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.DEAD).count() == 1)
    count = outbox_replay(deliveries=Delivery.objects.filter(status=DeliveryStatus.DEAD))
    assert count == 1
    receiver.wait_for(5)
    assert len(set(receiver.ids())) == 1
    wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 1)


def test_payload_is_stored_once(transactional_db, receiver):
    setup = make_merchant("Many endpoints")
    for _ in range(3):
        webhook_endpoint_create(merchant=setup.merchant, url=receiver.url)
    customer = make_customer(setup.merchant)
    from outbox.models import OutboxEvent

    assert OutboxEvent.objects.count() == 1
    assert Delivery.objects.filter(event__customer_id=customer.id).count() == 3
    assert json.dumps(OutboxEvent.objects.get().payload)


def _database_answers() -> bool:
    from django.db import OperationalError, connections

    connections.close_all()
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    except OperationalError:
        return False
    return True


@pytest.mark.parametrize("broker", BROKERS, indirect=True)
def test_postgres_restart_mid_stream_loses_nothing(stack, broker, receiver, shop):
    import os
    import subprocess

    from django.db import connections

    setup, endpoint, secret, customer = shop
    services = os.environ.get("SERVICES_DIR")
    if not services:
        pytest.fail("SERVICES_DIR is not set: run through make test")
    stack.worker()
    stack.relay()
    receiver.wait_for(1)  # both processes are up (customer.created went out)
    for i in range(10):
        _commit(setup, customer, f"PG-{i}")
    connections.close_all()
    subprocess.run([".ci/services.sh", "pg-stop", services], check=True, capture_output=True)
    time.sleep(3)  # relay and workers lose their connections while rows are pending or leased
    subprocess.run([".ci/services.sh", "pg-start", services], check=True, capture_output=True)
    # Back as this process sees it (directly, or through PgBouncer once it logs in again).
    wait_until(_database_answers, timeout=30)
    for i in range(10, 20):
        _commit(setup, customer, f"PG-{i}")
    total = Delivery.objects.count()
    wait_until(
        lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == total,
        timeout=90,
    )
    orders = [r.json()["data"].get("order_id") for r in receiver.requests]
    # every committed event arrived, in commit order for this customer (duplicates allowed:
    # delivery is at least once; receivers deduplicate by webhook-id)
    assert {f"PG-{i}" for i in range(20)} <= set(orders)
    firsts = [o for i, o in enumerate(orders) if o and o not in orders[:i]]
    assert firsts == [f"PG-{i}" for i in range(20)]
