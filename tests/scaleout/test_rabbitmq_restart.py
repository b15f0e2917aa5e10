"""RabbitMQ restarted in the middle of a stream of purchases: the relay and the worker reconnect
and every committed purchase's webhook reaches the receiver (nothing lost)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from standardwebhooks import Webhook

from loyalty.services import purchase_commit
from outbox.models import Delivery, DeliveryStatus
from outbox.services import webhook_endpoint_create
from tests.factories import make_customer, make_merchant
from tests.fixtures.processes import wait_until

pytestmark = pytest.mark.slow

#: Purchases committed before the restart begins, and after RabbitMQ is back.
BEFORE, AFTER = 10, 10


def test_rabbitmq_restart_mid_stream_loses_nothing(stack, receiver, rabbitmq, transactional_db):
    setup = make_merchant("RabbitRestart")
    endpoint, secret = webhook_endpoint_create(merchant=setup.merchant, url=receiver.url)
    customer = make_customer(setup.merchant)
    through_rabbit = {"DRAMATIQ_BROKER_URL": rabbitmq.url}
    stack.worker(**through_rabbit)
    stack.relay(**through_rabbit)

    committed: list[str] = []
    stop = threading.Event()

    def stream() -> None:
        try:
            commit_until_stopped()
        finally:
            connection.close()  # this thread's own connection, or the test database stays in use

    def commit_until_stopped() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            purchase = purchase_commit(
                merchant=setup.merchant,
                customer_id=customer.id,
                amount_minor=5_00,
                order_id=f"RR-{n}",
                outlet_id=setup.outlet.id,
            )
            committed.append(str(purchase.id))
            time.sleep(0.05)

    streamer = threading.Thread(target=stream, daemon=True)
    streamer.start()
    try:
        wait_until(lambda: len(committed) >= BEFORE, timeout=60)
        rabbitmq.restart()  # purchases keep being committed while the node is down
        back = len(committed)
        wait_until(lambda: len(committed) >= back + AFTER, timeout=60)
    finally:
        stop.set()
        streamer.join(timeout=30)
    assert back > BEFORE  # some were committed while RabbitMQ was away

    got = receiver.wait_for(1 + len(committed), timeout=120)
    delivered = set()
    for request in got:
        payload = Webhook(secret).verify(request.body, request.headers)
        if payload["type"] == "purchase.committed":
            delivered.add(payload["data"]["id"])
    assert set(committed) <= delivered, set(committed) - delivered
    wait_until(
        lambda: (
            Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 1 + len(committed)
        ),
        timeout=60,
    )
    assert rabbitmq.queue_messages("outbound") == 0
