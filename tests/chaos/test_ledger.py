"""The chaos run's ledger check fails on each kind of breach it is there to catch."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from loyalty.services import points_adjust
from outbox.models import Delivery, DeliveryStatus
from outbox.services import webhook_endpoint_create
from tests.chaos.rig import ledger_check
from tests.factories import make_customer, make_merchant
from tests.fixtures.receiver import Received, Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def outbox_rows():
    setup = make_merchant("Ledger")
    for kind in ("steady", "flaky"):
        webhook_endpoint_create(merchant=setup.merchant, url=f"http://127.0.0.1:9/hook/{kind}")
    customer = make_customer(setup.merchant)
    for _ in range(2):
        points_adjust(merchant=setup.merchant, customer_id=customer.id, points=1, reason="x")
    Delivery.objects.update(status=DeliveryStatus.DELIVERED)
    return list(Delivery.objects.select_related("event", "endpoint").order_by("id"))


def _hit(d: Delivery, *, sequence: int | None = None) -> Received:
    body = {**d.event.payload, "sequence": d.sequence if sequence is None else sequence}
    path = "/hook/" + d.endpoint.url.rsplit("/", 1)[1]
    return Received(path, {"webhook-id": d.event.message_id}, json.dumps(body).encode(), 0.0)


def _check(hits: list[Received]):
    return ledger_check(Receiver(requests=hits), seconds=1, actions=Counter())


def test_a_clean_run_holds(outbox_rows):
    report = _check([_hit(d) for d in outbox_rows] + [_hit(outbox_rows[0])])
    assert report.delivered == 6 and report.duplicates == 1


def test_each_breach_is_caught(outbox_rows):
    hits = [_hit(d) for d in outbox_rows]
    with pytest.raises(AssertionError, match="out of order"):
        _check(_reordered(outbox_rows))
    with pytest.raises(AssertionError, match="never received"):
        _check(hits[:-1])
    with pytest.raises(AssertionError, match="sequences"):
        _check([*hits, _hit(outbox_rows[0], sequence=9)])
    Delivery.objects.filter(id=outbox_rows[-1].id).update(status=DeliveryStatus.LEASED)
    with pytest.raises(AssertionError, match="never settled"):
        _check(hits)


def _reordered(rows: list[Delivery]) -> list[Received]:
    """One stream's first two deliveries swapped."""
    steady = [d for d in rows if d.endpoint.url.endswith("/steady")]
    others = [d for d in rows if not d.endpoint.url.endswith("/steady")]
    return [_hit(d) for d in [steady[1], steady[0], *steady[2:], *others]]
