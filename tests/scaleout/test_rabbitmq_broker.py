"""DRAMATIQ_BROKER_URL=amqp://...: the relay publishes to a real RabbitMQ and a real worker
consumes from it and delivers a signed webhook to a loopback receiver."""

from __future__ import annotations

import os

import pytest
import redis
from standardwebhooks import Webhook

from loyalty.services import purchase_commit
from outbox.models import Delivery, DeliveryStatus
from outbox.services import webhook_endpoint_create
from tests.factories import make_customer, make_merchant
from tests.fixtures.processes import wait_until

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("broker", ["rabbitmq"], indirect=True)
def test_worker_delivers_through_rabbitmq(stack, broker, receiver, rabbitmq, transactional_db):
    setup = make_merchant("Rabbit")
    endpoint, secret = webhook_endpoint_create(merchant=setup.merchant, url=receiver.url)
    customer = make_customer(setup.merchant)
    stack.worker()
    stack.relay()
    purchase = purchase_commit(
        merchant=setup.merchant,
        customer_id=customer.id,
        amount_minor=250_00,
        order_id="R-1",
        outlet_id=setup.outlet.id,
    )

    got = receiver.wait_for(2, timeout=40)  # customer.created, purchase.committed
    by_type = {r.json()["type"]: r for r in got}
    payload = Webhook(secret).verify(
        by_type["purchase.committed"].body, by_type["purchase.committed"].headers
    )
    assert payload["data"]["id"] == str(purchase.id)
    wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 2)
    # The messages went through RabbitMQ (its queue exists and was drained), not through Redis.
    assert rabbitmq.queue_messages("outbound") == 0
    assert list(redis.Redis.from_url(os.environ["REDIS_URL"]).scan_iter("dramatiq:*")) == []
    assert "Traceback" not in stack.log("worker") + stack.log("relay")
