"""RabbitMQ restarted in the middle of a stream of purchases, cleanly (SIGTERM) and hard (SIGKILL
of the node, started again on the same data folder): the relay and the worker reconnect, every
committed purchase's webhook reaches the receiver (nothing lost), and each event takes effect
once at a receiver that deduplicates by ``webhook-id`` (a redelivery carries the same id)."""

from __future__ import annotations

from collections import Counter

import pytest

from outbox.models import Delivery, DeliveryStatus
from outbox.services import webhook_endpoint_create
from tests.factories import make_customer, make_merchant
from tests.fixtures.processes import wait_until
from tests.scaleout.streams import PurchaseStream, delivered_purchases

pytestmark = pytest.mark.slow

#: Purchases committed before the restart begins, and after RabbitMQ is back.
BEFORE, AFTER = 10, 10


@pytest.mark.parametrize("broker", ["rabbitmq"], indirect=True)
@pytest.mark.parametrize("hard", [False, True], ids=["sigterm", "sigkill"])
def test_rabbitmq_restart_mid_stream_loses_nothing(
    stack, broker, receiver, rabbitmq, transactional_db, hard
):
    setup = make_merchant("RabbitRestart")
    endpoint, secret = webhook_endpoint_create(merchant=setup.merchant, url=receiver.url)
    customer = make_customer(setup.merchant)
    stack.worker()
    stack.relay()

    stream = PurchaseStream(setup, [customer], prefix="RR").start()
    try:
        wait_until(lambda: len(stream) >= BEFORE, timeout=60)
        rabbitmq.restart(hard=hard)  # purchases keep being committed while the node is down
        back = len(stream)
        wait_until(lambda: len(stream) >= back + AFTER, timeout=60)
    finally:
        stream.stop()
    assert back > BEFORE  # some were committed while RabbitMQ was away

    wait_until(
        lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 1 + len(stream),
        timeout=120,
    )
    purchases = Counter(delivered_purchases(receiver.requests, secret))
    assert set(purchases) == set(stream.ids), set(stream.ids) ^ set(purchases)
    # No purchase arrived under two webhook-ids: after deduplication, one effect each.
    assert set(purchases.values()) == {1}, [p for p, n in purchases.items() if n > 1]
    assert rabbitmq.queue_messages("outbound") == 0
