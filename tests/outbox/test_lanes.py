"""One slow endpoint never delays the others (issue 11, isolation): a hanging receiver holds at
most ``ENDPOINT_CONCURRENCY`` send threads, the fast deliveries of the same batch are recorded
while it hangs, the batch's actor thread is free again after ``ACTOR_WAIT_SECONDS`` (the late
recorder writes the slow tries when they end), and once its tries fail slowly the rest of its
queue goes back to pending without a send. The engine against a real receiver on loopback."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from outbox import engine
from outbox.models import Attempt, Delivery, DeliveryStatus
from outbox.relay import deliveries_claim
from outbox.services import webhook_endpoint_create
from tests.factories import make_customer, make_merchant


@pytest.fixture
def merchant(transactional_db):
    return make_merchant("Shop").merchant


def _until(check, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_a_hanging_endpoint_holds_its_share_and_the_others_go_on(merchant, receiver, monkeypatch):
    monkeypatch.setattr(engine, "lanes", engine.EndpointLanes())
    late = engine.LateRecorder()
    monkeypatch.setattr(engine, "late", late)
    monkeypatch.setattr(engine, "ENDPOINT_CONCURRENCY", 2)
    monkeypatch.setattr(engine, "SLOW_FAILURE_SECONDS", 0.0)  # every failed try counts as slow
    gate = threading.Event()
    lock = threading.Lock()
    in_flight, peak = [0], [0]

    def respond(request, n):
        if request.path != "/slow":
            return 200, {}, b"ok", 0.0
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        gate.wait(30)  # hangs until the test lets it answer
        with lock:
            in_flight[0] -= 1
        return 500, {}, b"down", 0.0

    receiver.respond = respond
    base = receiver.url.rsplit("/", 1)[0]
    slow, _ = webhook_endpoint_create(merchant=merchant, url=base + "/slow", ordered=False)
    fast, _ = webhook_endpoint_create(merchant=merchant, url=base + "/fast", ordered=False)
    for _ in range(6):
        make_customer(merchant)  # customer.created: one delivery to each endpoint
    claim = deliveries_claim(batch=50, lease_seconds=60)
    assert claim is not None and len(claim.ids) == 12

    counts: dict[str, int] = {}

    def work() -> None:
        try:
            counts.update(
                engine.deliveries_process(delivery_ids=claim.ids, lease_token=str(claim.token))
            )
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    try:
        # Every fast delivery is recorded while the slow endpoint still hangs.
        assert _until(
            lambda: (
                Delivery.objects.filter(endpoint=fast, status=DeliveryStatus.DELIVERED).count() == 6
            )
        ), "the fast endpoint's deliveries waited for the hanging one"
        # The actor's thread does not wait for the hanging receiver: it is free after
        # ACTOR_WAIT_SECONDS, leaving the six slow ones (two sending, four queued) to the late
        # recorder, still leased.
        worker.join(engine.ACTOR_WAIT_SECONDS + 5)
        assert not worker.is_alive(), "the actor waited for the hanging receiver"
        assert counts == {"delivered": 6, "late": 6}, counts
        assert late.outstanding == 6
        assert Delivery.objects.filter(endpoint=slow, status=DeliveryStatus.LEASED).count() == 6
        assert peak[0] == 2  # no more than its share of the send threads
    finally:
        gate.set()
        worker.join(30)

    assert _until(lambda: late.outstanding == 0), "the late tries were never recorded"
    assert _until(
        lambda: not Delivery.objects.filter(endpoint=slow, status=DeliveryStatus.LEASED).exists()
    )
    # Two tries failed slowly; the four still queued went back to pending without a send.
    assert [r.path for r in receiver.requests].count("/slow") == 2
    tried = Delivery.objects.filter(endpoint=slow, attempts=1)
    untried = Delivery.objects.filter(endpoint=slow, attempts=0)
    assert tried.count() == 2 and untried.count() == 4
    assert all(d.status == DeliveryStatus.PENDING for d in Delivery.objects.filter(endpoint=slow))
    later = timezone.now() + timedelta(seconds=engine.SLOW_RETRY_SECONDS - 5)
    assert all(d.next_attempt_at > later for d in untried)
    assert Attempt.objects.filter(delivery__endpoint=slow).count() == 2


def test_a_lone_delivery_is_always_sent_after_a_slow_failure(merchant, receiver, monkeypatch):
    """Only deliveries queued behind a slow failure are deferred; a free lane sends (its try
    probes the endpoint), so one delivery keeps its own retry schedule."""
    lanes = engine.EndpointLanes()
    monkeypatch.setattr(engine, "lanes", lanes)
    monkeypatch.setattr(engine, "SLOW_FAILURE_SECONDS", 0.0)
    receiver.respond = lambda req, n: (500, {}, b"down", 0.0) if n == 1 else (200, {}, b"ok", 0.0)
    endpoint, _ = webhook_endpoint_create(merchant=merchant, url=receiver.url, ordered=False)
    make_customer(merchant)
    for expected in ({"retry": 1}, {"delivered": 1}):
        Delivery.objects.filter(status=DeliveryStatus.PENDING).update(
            next_attempt_at=timezone.now()
        )
        claim = deliveries_claim(batch=50, lease_seconds=60)
        assert claim is not None
        counts = engine.deliveries_process(delivery_ids=claim.ids, lease_token=str(claim.token))
        assert counts == expected
    assert len(receiver.requests) == 2
    assert not lanes._running and not lanes._waiting  # every turn given back
