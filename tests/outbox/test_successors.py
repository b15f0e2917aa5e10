"""Successors released at completion: an ordered stream drains at the receiver's pace, not one
delivery per relay poll.

The relay runs in this process with a poll interval of five minutes, so the only things that can
make it claim a stream's next delivery are the NOTIFY a worker issues when it finishes a try and
the relay's sleep until the next retry comes due. Were successors still waiting for a poll, the
stream below would need more than an hour; it must drain within the test's (generous) bound.
A real Dramatiq worker delivers to a real receiver on loopback.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from loyalty.services import purchase_commit
from outbox.actors import enqueue
from outbox.models import Delivery, DeliveryStatus
from outbox.relay import Relay
from outbox.services import webhook_endpoint_create
from tests.factories import make_customer, make_merchant
from tests.fixtures.processes import wait_until

pytestmark = pytest.mark.slow

#: Longer than the whole test may take: a claim that waited for the poll would time it out.
LONG_POLL_SECONDS = 300.0
PURCHASES = 20


@pytest.fixture
def relay_in_thread(transactional_db):
    relay = Relay(enqueue=enqueue, poll_seconds=LONG_POLL_SECONDS, jobs=[])

    def run() -> None:
        try:
            relay.run_forever()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    yield relay, thread
    relay.stop()
    with connection.cursor() as cursor:  # cut the listener's sleep short so the thread ends
        cursor.execute("SELECT pg_notify('outbox_due', '')")
    thread.join(timeout=10)


def test_ordered_stream_drains_without_waiting_for_a_poll(stack, receiver, relay_in_thread):
    relay, thread = relay_in_thread
    setup = make_merchant("Stream")
    webhook_endpoint_create(merchant=setup.merchant, url=receiver.url)
    customer = make_customer(setup.merchant)
    for i in range(PURCHASES):
        purchase_commit(
            merchant=setup.merchant,
            customer_id=customer.id,
            amount_minor=10_00,
            order_id=f"S-{i}",
            outlet_id=setup.outlet.id,
        )
    tries = {"S-3": 0}

    def respond(req, n):
        order = req.json()["data"].get("order_id")
        if order == "S-3" and tries["S-3"] == 0:  # one retry: rescheduled, then due again
            tries["S-3"] += 1
            return 503, {}, b"busy", 0
        if order == "S-7":  # dead by policy: its successor is released all the same
            return 400, {"webhook-delivery": "abort-message"}, b"no", 0
        return 200, {}, b"", 0

    receiver.respond = respond
    stack.worker()
    receiver_before = len(receiver.requests)
    thread.start()

    total = PURCHASES + 1  # customer.created first
    wait_until(
        lambda: (
            Delivery.objects.filter(
                status__in=[DeliveryStatus.DELIVERED, DeliveryStatus.DEAD]
            ).count()
            == total
        ),
        timeout=90,
    )
    assert receiver_before == 0
    orders = [r.json()["data"].get("order_id") for r in receiver.requests]
    expected = [None] + [f"S-{i}" for i in range(PURCHASES)]
    expected.insert(expected.index("S-3"), "S-3")  # the 503, then its retry
    assert orders == expected
    assert Delivery.objects.filter(status=DeliveryStatus.DEAD).count() == 1
    assert not Delivery.objects.filter(status=DeliveryStatus.LEASED).exists()
    # Every successor was claimed after a wake-up, never after a poll (none was due).
    assert relay.wakeups >= PURCHASES - 1
