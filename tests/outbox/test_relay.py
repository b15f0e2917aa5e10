"""The relay's claim without processes: circuit breaker, ordering, pauses, leases, retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from outbox.engine import BREAKER_THRESHOLD
from outbox.jobs import gauges_compute, retention_purge
from outbox.models import Attempt, Delivery, DeliveryStatus, OutboxEvent, WebhookEndpoint
from outbox.relay import deliveries_claim, leases_recover
from outbox.services import outbox_pause, webhook_endpoint_create
from tests.factories import make_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(merchant):
    endpoint, _ = webhook_endpoint_create(merchant=merchant, url="http://127.0.0.1:9/hook")
    return endpoint


def claim_ids() -> list[int]:
    claim = deliveries_claim(batch=100, lease_seconds=30)
    return claim.ids if claim else []


def test_open_circuit_holds_then_sends_one_probe(merchant, endpoint):
    for _ in range(3):
        make_customer(merchant)
    WebhookEndpoint.objects.filter(id=endpoint.id).update(
        consecutive_failures=BREAKER_THRESHOLD,
        circuit_open_until=timezone.now() + timedelta(seconds=60),
    )
    assert claim_ids() == []  # open: everything stays pending
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 3
    WebhookEndpoint.objects.filter(id=endpoint.id).update(
        circuit_open_until=timezone.now() - timedelta(seconds=1)
    )
    assert len(claim_ids()) == 1  # half-open: a single probe
    assert claim_ids() == []  # the probe took the right to probe for the next cool-down
    endpoint.refresh_from_db()
    assert endpoint.circuit_open_until > timezone.now()


def test_ordering_holds_later_events_of_one_customer(merchant, endpoint):
    customer = make_customer(merchant)
    other = make_customer(merchant)
    from loyalty.services import points_adjust

    points_adjust(merchant=merchant, customer_id=customer.id, points=5, reason="x")
    first = claim_ids()
    # one per customer: the customer's created event and the other customer's created event
    assert len(first) == 2
    assert claim_ids() == []  # the adjustment waits for the customer's earlier event
    Delivery.objects.filter(id__in=first).update(status=DeliveryStatus.DELIVERED)
    assert len(claim_ids()) == 1
    WebhookEndpoint.objects.filter(id=endpoint.id).update(ordered=False)
    points_adjust(merchant=merchant, customer_id=other.id, points=1, reason="y")
    Delivery.objects.filter(event__customer_id=other.id, status=DeliveryStatus.PENDING).update(
        ordered=False
    )
    assert len(claim_ids()) == 1


def test_pauses_exclude_and_global_pause_claims_nothing(merchant, endpoint):
    make_customer(merchant)
    outbox_pause(reason="x", actor="t", endpoint_id=str(endpoint.id))
    assert claim_ids() == []
    outbox_pause(reason="y", actor="t")
    assert deliveries_claim(batch=10, lease_seconds=30) is None


def test_expired_lease_goes_back_to_pending(merchant, endpoint):
    make_customer(merchant)
    ids = claim_ids()
    assert Delivery.objects.get(id=ids[0]).status == DeliveryStatus.LEASED
    assert leases_recover(now=timezone.now() + timedelta(seconds=10)) == 0  # lease still held
    assert leases_recover(now=timezone.now() + timedelta(seconds=31)) == 1
    assert Delivery.objects.get(id=ids[0]).status == DeliveryStatus.PENDING


def test_retention_purges_only_old_delivered_rows(merchant, endpoint):
    for _ in range(3):
        make_customer(merchant)
    old, recent, pending = Delivery.objects.order_by("id")
    long_ago = timezone.now() - timedelta(days=30)
    Delivery.objects.filter(id=old.id).update(status=DeliveryStatus.DELIVERED, updated_at=long_ago)
    Delivery.objects.filter(id=recent.id).update(status=DeliveryStatus.DELIVERED)
    Attempt.objects.create(delivery_id=old.id, started_at=long_ago, duration_ms=5, status_code=200)
    OutboxEvent.objects.filter(id=old.event_id).update(created_at=long_ago)
    assert retention_purge(older_than=timedelta(days=14)) == 1
    assert set(Delivery.objects.values_list("id", flat=True)) == {recent.id, pending.id}
    assert not Attempt.objects.exists()
    assert not OutboxEvent.objects.filter(id=old.event_id).exists()


def test_gauges_count_by_channel(merchant, endpoint):
    make_customer(merchant)
    make_customer(merchant)
    Delivery.objects.filter(id=Delivery.objects.first().id).update(status=DeliveryStatus.DEAD)
    gauges = gauges_compute()
    assert gauges["pending"] == {"webhook": 1, "telegram": 0}
    assert gauges["dead"] == 1


def test_breaker_opens_after_consecutive_failures_and_a_success_closes_it(
    transactional_db, receiver
):
    from outbox.engine import deliveries_process
    from tests.factories import make_merchant

    setup = make_merchant("Flaky")
    endpoint, _ = webhook_endpoint_create(merchant=setup.merchant, url=receiver.url)
    for _ in range(BREAKER_THRESHOLD):
        make_customer(setup.merchant)
    receiver.respond = lambda req, n: (500, {}, b"down", 0)
    claim = deliveries_claim(batch=100, lease_seconds=30)
    deliveries_process(delivery_ids=claim.ids, lease_token=str(claim.token))
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == BREAKER_THRESHOLD
    assert endpoint.circuit_open_until > timezone.now() and endpoint.failing_since is not None
    assert (
        Delivery.objects.filter(status=DeliveryStatus.PENDING, attempts=1).count()
        == BREAKER_THRESHOLD
    )
    # the probe succeeds: the circuit closes and the failure streak is forgotten
    receiver.respond = None
    WebhookEndpoint.objects.filter(id=endpoint.id).update(circuit_open_until=timezone.now())
    Delivery.objects.update(next_attempt_at=timezone.now())
    probe = deliveries_claim(batch=100, lease_seconds=30)
    assert len(probe.ids) == 1
    deliveries_process(delivery_ids=probe.ids, lease_token=str(probe.token))
    endpoint.refresh_from_db()
    assert (endpoint.consecutive_failures, endpoint.failing_since) == (0, None)
    assert len(deliveries_claim(batch=100, lease_seconds=30).ids) == BREAKER_THRESHOLD - 1


def test_retention_keeps_an_event_that_still_has_a_delivery_to_make(
    merchant, endpoint, monkeypatch
):
    """The purge goes chunk by chunk; an event leaves with its last delivery, a dead delivery
    stays (replayable) while its old attempts go, an event that never had a target goes."""
    import outbox.jobs

    monkeypatch.setattr(outbox.jobs, "PURGE_CHUNK", 2)
    for _ in range(5):
        make_customer(merchant)
    rows = list(Delivery.objects.order_by("id"))
    long_ago = timezone.now() - timedelta(days=30)
    delivered, dead, shared = rows[:3], rows[3], rows[4]
    Delivery.objects.filter(id__in=[d.id for d in delivered]).update(
        status=DeliveryStatus.DELIVERED, updated_at=long_ago
    )
    Delivery.objects.filter(id=dead.id).update(status=DeliveryStatus.DEAD, updated_at=long_ago)
    for d in rows:
        Attempt.objects.create(delivery_id=d.id, started_at=long_ago, duration_ms=5)
    # A second target of the first event, still pending: the event must stay for it.
    Delivery.objects.create(
        event_id=delivered[0].event_id,
        merchant=merchant,
        channel="telegram",
        telegram_chat_id=42,
        next_attempt_at=timezone.now(),
    )
    orphan = OutboxEvent.objects.create(merchant=merchant, event_type="points.adjusted", payload={})
    OutboxEvent.objects.filter(id__in=[orphan.id, shared.event_id]).update(created_at=long_ago)
    Delivery.objects.filter(id=shared.id).delete()  # its event now has no delivery at all

    assert retention_purge(older_than=timedelta(days=14)) == 3
    assert not Delivery.objects.filter(id__in=[d.id for d in delivered]).exists()
    assert Delivery.objects.filter(id=dead.id, status=DeliveryStatus.DEAD).exists()
    assert not Attempt.objects.filter(started_at__lt=timezone.now() - timedelta(days=14)).exists()
    assert OutboxEvent.objects.filter(id=delivered[0].event_id).exists()
    assert not OutboxEvent.objects.filter(id__in=[delivered[1].event_id, delivered[2].event_id])
    assert not OutboxEvent.objects.filter(id__in=[orphan.id, shared.event_id]).exists()
    assert OutboxEvent.objects.filter(id=dead.event_id).exists()


def test_retention_stops_at_its_budget_and_goes_on_at_the_next_run(merchant, endpoint, monkeypatch):
    import outbox.jobs

    monkeypatch.setattr(outbox.jobs, "PURGE_CHUNK", 1)
    for _ in range(3):
        make_customer(merchant)
    Delivery.objects.update(
        status=DeliveryStatus.DELIVERED, updated_at=timezone.now() - timedelta(days=30)
    )
    assert retention_purge(older_than=timedelta(days=14), budget_seconds=0) == 1
    assert Delivery.objects.count() == 2
    assert retention_purge(older_than=timedelta(days=14)) == 2
    assert not Delivery.objects.exists()
    assert not OutboxEvent.objects.exists()
