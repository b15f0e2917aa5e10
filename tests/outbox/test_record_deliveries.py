"""Which deliveries an event gets, now that PostgreSQL makes the webhook rows from the
endpoints table inside the commit's one statement (``outbox.services._webhook_deliveries_add``):
the same rule as ``WebhookEndpoint.subscribes_to`` over the merchant's enabled endpoints, a
``sequence`` for ordered streams only, the relay's nudge only when a row was made."""

from __future__ import annotations

import select
import time

import pytest
from django.db import transaction

from loyalty.events import EventType
from loyalty.models import TelegramStatus
from outbox.models import Channel, Delivery, StreamSequence, WebhookEndpoint
from outbox.services import outbox_event_record, webhook_endpoint_create
from outbox.wakeup import Listener
from tests.factories import make_customer, make_merchant

pytestmark = pytest.mark.django_db(transaction=True)


def _record(merchant, customer=None, event_type=EventType.POINTS_ADJUSTED):
    with transaction.atomic():
        return outbox_event_record(
            merchant=merchant, event_type=event_type, data={"n": 1}, customer=customer
        )


def test_deliveries_follow_enabled_subscribed_endpoints_of_the_merchant_only():
    setup, other = make_merchant("Subs"), make_merchant("Other")
    url = "http://127.0.0.1:9/"
    every, _ = webhook_endpoint_create(merchant=setup.merchant, url=url + "every")
    adjusted, _ = webhook_endpoint_create(
        merchant=setup.merchant, url=url + "adj", event_types=[EventType.POINTS_ADJUSTED]
    )
    refunds, _ = webhook_endpoint_create(
        merchant=setup.merchant, url=url + "ref", event_types=[EventType.PURCHASE_REFUNDED]
    )
    loose, _ = webhook_endpoint_create(merchant=setup.merchant, url=url + "u", ordered=False)
    off, _ = webhook_endpoint_create(merchant=setup.merchant, url=url + "off")
    WebhookEndpoint.objects.filter(id=off.id).update(is_enabled=False)
    webhook_endpoint_create(merchant=other.merchant, url=url + "theirs")
    customer = make_customer(setup.merchant)

    def last_sequences() -> dict:
        streams = StreamSequence.objects.filter(customer_id=customer.id)
        return {s.endpoint_id: s.last_sequence for s in streams}

    before = last_sequences()  # make_customer's customer.created numbered `every` already
    assert before == {every.id: 1}
    for n in (1, 2):
        event = _record(setup.merchant, customer)
        rows = {
            d.endpoint_id: d for d in Delivery.objects.filter(event=event, channel=Channel.WEBHOOK)
        }
        expected = [
            e
            for e in WebhookEndpoint.objects.filter(merchant=setup.merchant, is_enabled=True)
            if e.subscribes_to(EventType.POINTS_ADJUSTED)
        ]
        assert set(rows) == {e.id for e in expected} == {every.id, adjusted.id, loose.id}
        assert rows[every.id].ordered and rows[adjusted.id].ordered
        assert not rows[loose.id].ordered and rows[loose.id].sequence is None
        assert (rows[every.id].sequence, rows[adjusted.id].sequence) == (1 + n, n)
        assert all(
            d.customer_id == customer.id and d.merchant_id == setup.merchant.id
            for d in rows.values()
        )
    assert refunds.id not in rows
    assert last_sequences() == {every.id: 3, adjusted.id: 2}

    # An event without a customer: deliveries, no sequence, no stream row.
    event = _record(setup.merchant, event_type=EventType.POINTS_ADJUSTED)
    made = Delivery.objects.filter(event=event)
    assert {d.endpoint_id for d in made} == {every.id, adjusted.id, loose.id}
    assert all(d.sequence is None and d.customer_id is None for d in made)
    # A type no endpoint hears about by webhook: no webhook rows.
    event = _record(setup.merchant, customer, event_type=EventType.POINTS_EXPIRING_SOON)
    assert not Delivery.objects.filter(event=event).exists()


def test_the_relay_is_nudged_only_when_the_event_made_a_delivery():
    setup = make_merchant("Nudge")
    customer = make_customer(setup.merchant)
    webhook_endpoint_create(
        merchant=setup.merchant,
        url="http://127.0.0.1:9/refunds",
        event_types=[EventType.PURCHASE_REFUNDED],
    )
    relay = Listener()  # the relay's own listener (behind PgBouncer: its direct connection)
    try:
        assert relay.wait(0.05) is False  # connected and listening from here on
        _record(setup.merchant, customer)  # no endpoint hears points.adjusted, no chat
        assert relay.wait(0.5) is False
        _record(setup.merchant, customer, event_type=EventType.PURCHASE_REFUNDED)
        assert relay.wait(5) is True
        customer.telegram_status = TelegramStatus.LINKED
        customer.telegram_chat_id = 4242
        customer.save()
        event = _record(setup.merchant, customer)  # the chat only
        assert relay.wait(5) is True
        (chat,) = Delivery.objects.filter(event=event)
        assert chat.channel == Channel.TELEGRAM and chat.telegram_chat_id == 4242
    finally:
        relay.close()


def test_nudges_that_arrived_meanwhile_are_taken_without_waiting():
    """The relay's pass after a short coalescing sleep drains the nudges of the commits that
    came meanwhile (their rows are in that pass), so it does not run an empty pass for each."""
    setup = make_merchant("Drain")
    customer = make_customer(setup.merchant)
    webhook_endpoint_create(merchant=setup.merchant, url="http://127.0.0.1:9/hook")
    relay = Listener()
    try:
        assert relay.wait(0.05) is False  # connected and listening from here on
        for _ in range(3):
            _record(setup.merchant, customer)  # three commits, three nudges
        assert _until_readable(relay)
        relay.drain()
        assert relay.wait(0.3) is False  # nothing left to wake the next wait
        _record(setup.merchant, customer)
        assert relay.wait(5) is True  # and a later commit still wakes it
    finally:
        relay.close()


def _until_readable(listener: Listener, timeout: float = 5.0) -> bool:
    """Wait until a nudge is buffered on the listener's connection, without taking it."""
    assert listener._conn is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([listener._conn.fileno()], [], [], 0.05)[0]:
            time.sleep(0.2)  # the other two commits' nudges arrive too
            return True
    return False
