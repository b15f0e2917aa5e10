"""Successors released at completion: an ordered stream drains at the receiver's pace, not one
delivery per relay poll.

The relay runs in this process with a poll interval of five minutes, so the only things that can
move a stream on are the worker handing the successor on itself, the NOTIFY it issues when a try
ends and the relay's sleep until the next retry comes due. Were successors still waiting for a poll, the
stream below would need more than an hour; it must drain within the test's (generous) bound.
A real Dramatiq worker delivers to a real receiver on loopback.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from loyalty.services import points_adjust, purchase_commit
from outbox import relay
from outbox.actors import enqueue
from outbox.engine import BREAKER_THRESHOLD
from outbox.models import Delivery, DeliveryStatus, WebhookEndpoint
from outbox.relay import Relay, deliveries_claim, successors_claim
from outbox.services import outbox_pause, outbox_resume, webhook_endpoint_create
from tests.factories import make_customer, make_merchant
from tests.fixtures.processes import wait_until

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


@pytest.mark.slow
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


def test_handing_on_claims_only_the_next_due_unpaused_delivery_of_the_stream(transactional_db):
    setup = make_merchant("Hand on")
    endpoint, _ = webhook_endpoint_create(merchant=setup.merchant, url="http://127.0.0.1:9/h")
    ann, bob = make_customer(setup.merchant), make_customer(setup.merchant)
    for person in (ann, ann, bob):
        points_adjust(merchant=setup.merchant, customer_id=person.id, points=1, reason="x")
    ann_rows = list(
        Delivery.objects.filter(customer_id=ann.id).order_by("id").values_list("id", flat=True)
    )
    streams = Q(endpoint_id=endpoint.id, customer_id=ann.id)
    # Ann's first is open (pending), so only it may go: one in flight per stream, commit order,
    # and nothing of Bob's stream although it is due.
    claim = deliveries_claim(batch=10, lease_seconds=30, only=streams)
    assert claim is not None and claim.ids == [ann_rows[0]]
    assert deliveries_claim(batch=10, lease_seconds=30, only=streams) is None  # leased: wait
    Delivery.objects.filter(id=ann_rows[0]).update(status=DeliveryStatus.DELIVERED)
    outbox_pause(reason="receiver maintenance", actor="test", endpoint_id=str(endpoint.id))
    assert deliveries_claim(batch=10, lease_seconds=30, only=streams) is None  # paused: wait
    outbox_resume(actor="test", endpoint_id=str(endpoint.id))
    WebhookEndpoint.objects.filter(id=endpoint.id).update(
        consecutive_failures=BREAKER_THRESHOLD, circuit_open_until=timezone.now()
    )
    assert deliveries_claim(batch=10, lease_seconds=30, only=streams) is None  # circuit: relay
    WebhookEndpoint.objects.filter(id=endpoint.id).update(
        consecutive_failures=0, circuit_open_until=None
    )
    claim = deliveries_claim(batch=10, lease_seconds=30, only=streams)
    assert claim is not None and claim.ids == [ann_rows[1]]


def test_the_one_probe_successor_claim_keeps_every_rule_of_the_claim(transactional_db):
    # successors_claim (the worker's hand-on) against the same situations: one in flight per
    # stream and commit order, pauses of every scope, an open circuit, a row not due yet.
    setup = make_merchant("Hand on fast")
    endpoint, _ = webhook_endpoint_create(merchant=setup.merchant, url="http://127.0.0.1:9/h")
    ann, bob = make_customer(setup.merchant), make_customer(setup.merchant)
    for person in (ann, ann, ann, bob):
        points_adjust(merchant=setup.merchant, customer_id=person.id, points=1, reason="x")
    rows = list(
        Delivery.objects.filter(customer_id=ann.id).order_by("id").values_list("id", flat=True)
    )
    stream = {(endpoint.id, ann.id)}

    def claim() -> list[int] | None:
        got = successors_claim(streams=stream, lease_seconds=30)
        return None if got is None else got.ids

    assert claim() == [rows[0]]  # the head, nothing of Bob's
    assert claim() is None  # the head is leased: wait
    Delivery.objects.filter(id=rows[0]).update(status=DeliveryStatus.DELIVERED)
    for scope in (
        {"endpoint_id": str(endpoint.id)},
        {"merchant_id": str(setup.merchant.id)},
        {"channel": "webhook"},
        {},
    ):
        outbox_pause(reason="maintenance", actor="test", **scope)
        assert claim() is None, scope
        outbox_resume(actor="test", **scope)
    WebhookEndpoint.objects.filter(id=endpoint.id).update(
        consecutive_failures=BREAKER_THRESHOLD, circuit_open_until=timezone.now()
    )
    assert claim() is None  # circuit: the relay's half-open probe decides
    WebhookEndpoint.objects.filter(id=endpoint.id).update(
        consecutive_failures=0, circuit_open_until=None
    )
    later = timezone.now() + timedelta(minutes=5)
    Delivery.objects.filter(id=rows[1]).update(next_attempt_at=later)
    assert claim() is None  # the head is a retry not due yet; the row after it must not jump
    Delivery.objects.filter(id=rows[1]).update(next_attempt_at=timezone.now())
    assert claim() == [rows[1]]
    leased = Delivery.objects.get(id=rows[1])
    assert leased.status == DeliveryStatus.LEASED and leased.lease_expires_at is not None
    Delivery.objects.filter(id=rows[1]).update(status=DeliveryStatus.DEAD)
    assert claim() == [rows[2]]  # a dead head no longer holds the stream
    # Several streams in one claim: Ann's head is leased now, so only Bob's head goes.
    bob_head = Delivery.objects.filter(customer_id=bob.id).order_by("id").first()
    assert bob_head is not None
    both = successors_claim(
        streams={(endpoint.id, ann.id), (endpoint.id, bob.id)}, lease_seconds=30
    )
    assert both is not None and both.ids == [bob_head.id]


def _index_loops(plan: dict, index: str) -> int:
    """How many times ``plan`` (EXPLAIN ANALYZE, JSON) ran a scan of ``index``."""
    loops = plan.get("Actual Loops", 0) if plan.get("Index Name") == index else 0
    return loops + sum(_index_loops(child, index) for child in plan.get("Plans", []))


def test_the_successor_claim_probes_each_stream_once_whatever_the_statistics(transactional_db):
    """Statistics taken while nothing was pending (the usual state) must not turn a backlog's
    claim into one probe per stream per pending row: as ``id IN (subquery)`` the planner ran
    the 200 streams' probes 3,000 times over (720 ms per claim in the bench)."""
    setup = make_merchant("Stale statistics")
    endpoint, _ = webhook_endpoint_create(merchant=setup.merchant, url="http://127.0.0.1:9/h")
    people = [make_customer(setup.merchant) for _ in range(20)]
    for _ in range(3):
        for person in people:
            points_adjust(merchant=setup.merchant, customer_id=person.id, points=1, reason="x")
    pending = list(Delivery.objects.filter(status=DeliveryStatus.PENDING).values_list("id"))
    Delivery.objects.update(status=DeliveryStatus.DELIVERED)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Delivery._meta.db_table}")  # "nothing is pending"
    Delivery.objects.filter(id__in=[p[0] for p in pending]).update(status=DeliveryStatus.PENDING)
    streams = {(endpoint.id, person.id) for person in people}
    sql = relay._successors_sql()
    params = relay.successors_params(streams, token=uuid.uuid4(), lease_seconds=30)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        [[explained]] = cursor.fetchall()
        transaction.set_rollback(True)  # EXPLAIN ANALYZE leased them: give them back
    plan = (explained if isinstance(explained, list) else json.loads(explained))[0]["Plan"]
    # One probe per stream (+ at most one scan to find the rows to lease), not per pending row.
    assert _index_loops(plan, "delivery_order_idx") <= len(streams) + 1
    claim = successors_claim(streams=streams, lease_seconds=30)
    assert claim is not None and len(claim.ids) == len(people)
