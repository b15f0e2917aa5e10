"""The per-stream ``sequence`` of ordered webhooks (CONTRACT "Merchant webhooks"): contiguous from
1 per endpoint and customer, signed with the body, the same on every retry and replay; absent for
unordered endpoints; numbered without a race when one customer's events commit concurrently."""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest
from django.db import connections
from standardwebhooks import Webhook

from loyalty.services import points_adjust, purchase_commit
from outbox.models import Delivery, DeliveryStatus, StreamSequence
from outbox.services import outbox_replay, webhook_endpoint_create
from tests.factories import make_customer, make_merchant
from tests.fixtures.processes import wait_until


def _commit(setup, customer, order: str) -> None:
    purchase_commit(
        merchant=setup.merchant,
        customer_id=customer.id,
        amount_minor=10_00,
        order_id=order,
        outlet_id=setup.outlet.id,
    )


@pytest.mark.slow
def test_sequence_is_contiguous_signed_and_stable_across_retry_and_replay(stack, receiver):
    setup = make_merchant("Seq")
    ordered, secret = webhook_endpoint_create(merchant=setup.merchant, url=f"{receiver.url}/o")
    webhook_endpoint_create(merchant=setup.merchant, url=f"{receiver.url}/u", ordered=False)
    ann, bob = make_customer(setup.merchant), make_customer(setup.merchant)
    for i in range(4):
        _commit(setup, ann, f"A-{i}")
        _commit(setup, bob, f"B-{i}")
    # An endpoint added later numbers its streams from 1 with the first event it receives.
    late, late_secret = webhook_endpoint_create(merchant=setup.merchant, url=f"{receiver.url}/l")
    _commit(setup, ann, "A-4")
    _commit(setup, ann, "A-5")

    failed = set()

    def respond(req, n):
        body = req.json()
        if (
            req.path.endswith("/o")
            and body["data"].get("order_id") == "A-2"
            and "A-2" not in failed
        ):
            failed.add("A-2")
            return 500, {}, b"boom", 0
        return 200, {}, b"", 0

    receiver.respond = respond
    stack.worker()
    stack.relay()
    total = Delivery.objects.count()
    assert total == (1 + 6 + 1 + 4) * 2 + 2  # created + purchases per customer, two endpoints
    wait_until(
        lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == total,
        timeout=60,
    )
    by_stream: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for hit in receiver.requests:
        kind = hit.path.rsplit("/", 1)[1]
        if kind == "u":
            assert "sequence" not in hit.json()  # unordered: no stream, no position
            continue
        # The number is part of the signed body.
        body = Webhook(secret if kind == "o" else late_secret).verify(hit.body, hit.headers)
        assert isinstance(body["sequence"], int)
        by_stream[(kind, body["data"].get("customer_id") or body["data"]["id"])].append(
            (hit.headers["webhook-id"], body["sequence"])
        )
    ann_o = by_stream[("o", str(ann.id))]
    # created + A-0..A-5 = 7, A-2 sent twice (500 then 200) with the same id and sequence
    assert [s for _, s in ann_o] == [1, 2, 3, 4, 4, 5, 6, 7]
    assert ann_o[3] == ann_o[4]
    assert [s for _, s in by_stream[("o", str(bob.id))]] == [1, 2, 3, 4, 5]
    assert [s for _, s in by_stream[("l", str(ann.id))]] == [1, 2]

    # Replay the whole ordered stream of Ann: the same ids with the same numbers again.
    before = len(receiver.requests)
    replayed = outbox_replay(
        deliveries=Delivery.objects.filter(endpoint=ordered, customer_id=ann.id)
    )
    assert replayed == 7
    got = receiver.wait_for(before + 7, timeout=30)[before:]
    again = [(h.headers["webhook-id"], h.json()["sequence"]) for h in got]
    assert again == [ann_o[i] for i in (0, 1, 2, 3, 5, 6, 7)]


def test_concurrent_commits_of_one_customer_get_distinct_contiguous_numbers(transactional_db):
    setup = make_merchant("Race")
    endpoint, _ = webhook_endpoint_create(merchant=setup.merchant, url="http://127.0.0.1:9/h")
    customer = make_customer(setup.merchant)
    errors: list[BaseException] = []

    def commit_many() -> None:
        try:
            for _ in range(10):
                points_adjust(
                    merchant=setup.merchant, customer_id=customer.id, points=1, reason="race"
                )
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=commit_many) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = list(
        Delivery.objects.filter(endpoint=endpoint, customer_id=customer.id)
        .order_by("id")
        .values_list("sequence", flat=True)
    )
    # Commit order is id order within one stream (the customer row lock), and so is sequence.
    assert rows == list(range(1, 62))
    assert StreamSequence.objects.get(endpoint=endpoint).last_sequence == 61


def test_rolled_back_event_gives_its_number_back(transactional_db):
    from django.db import transaction

    setup = make_merchant("Rollback")
    endpoint, _ = webhook_endpoint_create(merchant=setup.merchant, url="http://127.0.0.1:9/h")
    customer = make_customer(setup.merchant)  # sequence 1
    with pytest.raises(RuntimeError), transaction.atomic():
        points_adjust(merchant=setup.merchant, customer_id=customer.id, points=1, reason="x")
        raise RuntimeError("the domain transaction fails after recording")
    points_adjust(merchant=setup.merchant, customer_id=customer.id, points=1, reason="y")
    assert list(
        Delivery.objects.filter(endpoint=endpoint).order_by("id").values_list("sequence", flat=True)
    ) == [1, 2]
