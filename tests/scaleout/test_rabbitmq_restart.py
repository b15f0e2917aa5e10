"""RabbitMQ restarted in the middle of a stream of purchases, cleanly (SIGTERM) and hard (SIGKILL
of the node, started again on the same data folder): the relay and the worker reconnect, every
committed purchase's webhook reaches the receiver (nothing lost), and each event takes effect
once at a receiver that deduplicates by ``webhook-id`` (a redelivery carries the same id)."""

from __future__ import annotations

import threading
import time
from collections import Counter

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
        rabbitmq.restart(hard=hard)  # purchases keep being committed while the node is down
        back = len(committed)
        wait_until(lambda: len(committed) >= back + AFTER, timeout=60)
    finally:
        stop.set()
        streamer.join(timeout=30)
    assert back > BEFORE  # some were committed while RabbitMQ was away

    wait_until(
        lambda: (
            Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 1 + len(committed)
        ),
        timeout=120,
    )
    effects = effects_once(receiver.requests, secret)
    purchases = Counter(
        data["id"] for kind, data in effects.values() if kind == "purchase.committed"
    )
    assert set(purchases) == set(committed), set(committed) ^ set(purchases)
    # No purchase arrived under two webhook-ids: after deduplication, one effect each.
    assert set(purchases.values()) == {1}, [p for p, n in purchases.items() if n > 1]
    assert rabbitmq.queue_messages("outbound") == 0


def effects_once(requests, secret: str) -> dict[str, tuple[str, dict]]:
    """What a receiver that deduplicates by ``webhook-id`` applies: the first request of each id
    (every request signed; a redelivery must carry the same body as the first)."""
    effects: dict[str, tuple[str, dict]] = {}
    for request in requests:
        payload = Webhook(secret).verify(request.body, request.headers)
        first = effects.setdefault(
            request.headers["webhook-id"], (payload["type"], payload["data"])
        )
        assert first == (payload["type"], payload["data"]), "a redelivery changed the body"
    return effects
