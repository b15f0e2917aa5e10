"""loyalty_outbox_went_dead_total: counts deliveries as they go dead, once across relays, and a
replay does not lower it (the gauge loyalty_outbox_dead_total does)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from prometheus_client import REGISTRY

from core.cache import cache_add, cache_delete
from outbox.models import Delivery, DeliveryStatus
from outbox.services import outbox_replay, webhook_endpoint_create
from platform_ops.jobs import WENT_DEAD_LOCK_KEY, outbox_went_dead_count
from tests.factories import make_customer, make_merchant


def went_dead_total() -> float:
    return REGISTRY.get_sample_value("loyalty_outbox_went_dead_total") or 0.0


def test_counts_each_dead_delivery_once_and_a_replay_lowers_nothing(db, client, receiver):
    setup = make_merchant("Shop")
    for n in range(3):
        webhook_endpoint_create(merchant=setup.merchant, url=f"{receiver.url}/hook/{n}")
    make_customer(setup.merchant)  # customer.created: three deliveries
    t0 = timezone.now()
    assert outbox_went_dead_count(now=t0) is None  # first run: the watermark only
    before = went_dead_total()

    Delivery.objects.update(status=DeliveryStatus.DEAD, updated_at=t0)
    # Inside the settle margin: not counted yet (a commit may still be on its way).
    assert outbox_went_dead_count(now=t0 + timedelta(seconds=30)) == 0
    assert outbox_went_dead_count(now=t0 + timedelta(seconds=120)) == 3
    assert went_dead_total() == before + 3
    assert outbox_went_dead_count(now=t0 + timedelta(seconds=240)) == 0  # counted once

    outbox_replay(deliveries=Delivery.objects.filter(status=DeliveryStatus.DEAD))
    assert not Delivery.objects.filter(status=DeliveryStatus.DEAD).exists()
    assert outbox_went_dead_count(now=t0 + timedelta(seconds=360)) == 0
    assert went_dead_total() == before + 3  # the replay lowered the gauge, not the counter
    text = client.get("/metrics").content.decode()
    assert "loyalty_outbox_went_dead_total" in text


def test_another_relay_counting_now_is_left_alone(db):
    outbox_went_dead_count()
    assert cache_add(WENT_DEAD_LOCK_KEY, 1, 60)
    try:
        assert outbox_went_dead_count() is None
    finally:
        cache_delete(WENT_DEAD_LOCK_KEY)
