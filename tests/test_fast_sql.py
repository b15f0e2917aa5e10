"""core.fast_sql reads and writes rows as the ORM would: same instances, same stored values."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.fast_sql import WriteBatch, model_insert, model_row, model_rows
from loyalty.models import Customer
from outbox.models import Channel, Delivery, EventType, OutboxEvent, WebhookEndpoint
from outbox.services import webhook_endpoint_create
from outbox.wakeup import CHANNEL
from tests.factories import make_customer, make_merchant

pytestmark = pytest.mark.django_db


def _fields(instance: object) -> dict[str, object]:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_model_rows_gives_the_instances_the_orm_gives():
    setup, other = make_merchant("Rows"), make_merchant("Others")
    webhook_endpoint_create(merchant=setup.merchant, url="http://127.0.0.1:9/a")
    off, _ = webhook_endpoint_create(merchant=setup.merchant, url="http://127.0.0.1:9/b")
    webhook_endpoint_create(merchant=other.merchant, url="http://127.0.0.1:9/c")
    off.is_enabled = False
    off.event_types = ["purchase.committed"]  # a JSON list: read back through its converter
    off.save()

    for equals in (
        {"merchant_id": setup.merchant.id},
        {"merchant_id": setup.merchant.id, "is_enabled": False},
    ):
        fast = sorted(model_rows(WebhookEndpoint, **equals), key=lambda e: e.url)
        orm = sorted(WebhookEndpoint.objects.filter(**equals), key=lambda e: e.url)
        assert [_fields(e) for e in fast] == [_fields(e) for e in orm] and fast
        assert all(not e._state.adding and e._state.db == "default" for e in fast)
    (read,) = model_rows(WebhookEndpoint, merchant_id=setup.merchant.id, is_enabled=False)
    assert read.event_types == ["purchase.committed"] and read.pk == off.pk
    assert model_rows(WebhookEndpoint, merchant_id=setup.merchant.id, url="nope") == []


def test_model_row_reads_a_json_payload_and_locks_on_request():
    setup = make_merchant("Row")
    customer = make_customer(setup.merchant)
    event = model_insert(
        OutboxEvent(
            merchant=setup.merchant,
            event_type=EventType.PURCHASE_COMMITTED,
            customer_id=customer.id,
            payload={"data": {"order_id": "R-1", "nested": [1, {"a": None}]}},
        )
    )
    read = model_row(OutboxEvent, id=event.id)
    assert read is not None and _fields(read) == _fields(OutboxEvent.objects.get(id=event.id))
    assert read.payload == {"data": {"order_id": "R-1", "nested": [1, {"a": None}]}}
    with CaptureQueriesContext(connection) as seen:
        assert model_row(OutboxEvent, lock=True, id=event.id) is not None
    (sql,) = [q["sql"] for q in seen.captured_queries]
    assert "SELECT *" not in sql  # named columns: a prepared plan survives an added column
    assert sql.endswith("FOR UPDATE") == connection.features.has_select_for_update
    assert model_row(OutboxEvent, id=event.id + 1_000_000) is None


@pytest.mark.django_db(transaction=True)
def test_a_write_batch_is_one_statement_that_notifies_once_on_commit():
    """Events, their deliveries (keyed to an event whose id comes back in the same statement),
    an update and the relay's wake-up: one statement; every row gets its own key and the
    channel hears it once when the transaction commits, never when it rolls back."""
    setup = make_merchant("Notify")
    customer = make_customer(setup.merchant)
    if connection.vendor != "postgresql":
        with pytest.raises(ValueError, match="PostgreSQL"):
            WriteBatch().notify("x")
        return
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        with transaction.atomic():
            writes = WriteBatch()
            events = [writes.insert(_event(setup.merchant, f"N-{n}")) for n in range(3)]
            deliveries = [
                writes.insert(_delivery(setup.merchant, event, chat))
                for event, chat in ((events[2], 7), (events[0], 8), (events[2], 9))
            ]
            customer.balance_points = 42
            writes.update(customer, ("balance_points",))
            writes.notify(CHANNEL)
            assert events[0].pk is None  # nothing sent yet
            with CaptureQueriesContext(connection) as seen:
                writes.send()
            assert len(seen.captured_queries) == 1
            assert list(listener.notifies(timeout=0.3, stop_after=1)) == []  # not committed
        heard = list(listener.notifies(timeout=5, stop_after=1))
        assert [n.channel for n in heard] == [CHANNEL]
        assert list(listener.notifies(timeout=0.3, stop_after=1)) == []  # once, not per row
        stored = dict(
            OutboxEvent.objects.filter(merchant=setup.merchant).values_list("id", "payload")
        )
        assert [stored[e.id]["data"]["order_id"] for e in events] == ["N-0", "N-1", "N-2"]
        linked = dict(Delivery.objects.values_list("id", "event_id"))
        assert [linked[d.id] for d in deliveries] == [events[2].id, events[0].id, events[2].id]
        assert [d.event_id for d in deliveries] == [events[2].id, events[0].id, events[2].id]
        assert Customer.objects.get(id=customer.id).balance_points == 42

        with pytest.raises(RuntimeError), transaction.atomic():
            writes = WriteBatch()
            writes.insert(_event(setup.merchant, "N-9"))
            writes.notify(CHANNEL)
            writes.send()
            raise RuntimeError("roll back")
        assert list(listener.notifies(timeout=0.5, stop_after=1)) == []
        batched = OutboxEvent.objects.filter(
            merchant=setup.merchant, event_type=EventType.PURCHASE_COMMITTED
        )
        assert batched.count() == 3


def test_a_write_batch_stores_what_model_insert_stores():
    """The same rows as one model_insert at a time: values, auto_now_add times, keys."""
    setup = make_merchant("Batch")
    writes = WriteBatch()
    batched = writes.insert(_event(setup.merchant, "B-1"))
    delivery = writes.insert(_delivery(setup.merchant, batched, 5))
    assert batched.created_at is not None  # pre_save ran at insert(), before send()
    writes.send()
    alone = model_insert(_event(setup.merchant, "B-2"))
    read = {e.id: _fields(e) for e in OutboxEvent.objects.filter(merchant=setup.merchant)}
    assert read[batched.id] == _fields(batched) and read[alone.id] == _fields(alone)
    assert Delivery.objects.get(id=delivery.id).event_id == batched.id
    assert not batched._state.adding and not delivery._state.adding


def test_a_write_batch_refuses_a_link_to_an_unsaved_row_outside_it():
    setup = make_merchant("Outside")
    with pytest.raises(ValueError, match="not in the batch"):
        WriteBatch().insert(_delivery(setup.merchant, _event(setup.merchant, "X"), 1))


def test_statement_and_insert_select_read_earlier_rows_and_check_counts():
    """SQL whose rows come from tables and earlier statements, in the batch's one statement."""
    setup = make_merchant("Select")
    for n in range(3):
        webhook_endpoint_create(merchant=setup.merchant, url=f"http://127.0.0.1:9/{n}")
    counted: list[int] = []
    with transaction.atomic():
        writes = WriteBatch()
        event = writes.insert(_event(setup.merchant, "S-1"))
        picked = writes.statement(
            "UPDATE outbox_webhookendpoint SET consecutive_failures = consecutive_failures + 1 "
            "WHERE merchant_id = %s AND url <> %s RETURNING id",
            [setup.merchant.id, "http://127.0.0.1:9/0"],
            check=counted.append,
        )
        template = Delivery(
            event=event,
            merchant=setup.merchant,
            channel=Channel.WEBHOOK,
            next_attempt_at=timezone.now(),
        )
        writes.insert_select(
            template,
            columns={"endpoint": "p.id"},
            source="{picked} p",
            params=[],
            refs={"picked": picked},
        )
        with CaptureQueriesContext(connection) as seen:
            writes.send()
        assert len(seen.captured_queries) == 1
    assert counted == [2]
    made = Delivery.objects.filter(event_id=event.id)
    bumped = WebhookEndpoint.objects.filter(merchant=setup.merchant, consecutive_failures=1)
    assert {d.endpoint_id for d in made} == set(bumped.values_list("id", flat=True))
    assert made.count() == 2 and template.pk is None  # the template itself is not saved
    assert all(d.created_at is not None and d.status == template.status for d in made)

    # A check that raises rolls the whole batch back.
    with pytest.raises(LookupError), transaction.atomic():
        writes = WriteBatch()
        writes.insert(_event(setup.merchant, "S-2"))

        def refuse(count: int) -> None:
            raise LookupError(count)

        writes.statement(
            "DELETE FROM outbox_webhookendpoint WHERE url = %s RETURNING id", ["none"], check=refuse
        )
        writes.send()
    assert not OutboxEvent.objects.filter(payload__data__order_id="S-2").exists()

    with pytest.raises(ValueError, match="RETURNING"):
        WriteBatch().statement("DELETE FROM outbox_webhookendpoint", [])
    with pytest.raises(ValueError, match="no such columns"):
        WriteBatch().insert_select(template, columns={"nope": "1"}, source="x", params=[])
    with pytest.raises(ValueError, match="not inserted in this batch"):
        WriteBatch().statement("SELECT 1 RETURNING {e}", [], refs={"e": event})


def test_a_batch_of_many_parameters_is_converted_once_by_psycopg():
    """psycopg's placeholder conversion is cached for the batch (core.fast_sql widens its
    bounds): the second send of the same shape is a cache hit, not a new regex split."""
    from psycopg import _queries

    setup = make_merchant("Cached")

    def batch(n: int) -> None:
        writes = WriteBatch()
        for i in range(8):  # 8 events of 7 parameters: beyond psycopg's own 50
            writes.insert(_event(setup.merchant, f"C-{n}-{i}"))
        writes.send()

    batch(0)
    before = _queries._query2pg.cache_info()
    batch(1)
    after = _queries._query2pg.cache_info()
    assert after.hits > before.hits and after.misses == before.misses


def _delivery(merchant, event, chat_id):
    return Delivery(
        event=event,
        merchant=merchant,
        channel=Channel.TELEGRAM,
        telegram_chat_id=chat_id,
        next_attempt_at=timezone.now(),
    )


def _event(merchant, order_id):
    return OutboxEvent(
        merchant=merchant,
        event_type=EventType.PURCHASE_COMMITTED,
        payload={"data": {"order_id": order_id}},
    )
