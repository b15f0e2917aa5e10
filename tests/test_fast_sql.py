"""core.fast_sql reads and writes rows as the ORM would: same instances, same stored values."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core.fast_sql import model_insert, model_insert_many, model_row, model_rows
from outbox.models import EventType, OutboxEvent, WebhookEndpoint
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
def test_model_insert_many_can_notify_in_the_same_statement():
    """One statement: the rows get their own keys in order, and the channel hears it once when
    the transaction commits, never when it rolls back."""
    setup = make_merchant("Notify")
    if connection.vendor != "postgresql":
        with pytest.raises(ValueError, match="PostgreSQL"):
            model_insert_many([_event(setup.merchant, "N-0")], notify="x")
        return
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        with transaction.atomic():
            events = [_event(setup.merchant, f"N-{n}") for n in range(3)]
            with CaptureQueriesContext(connection) as seen:
                model_insert_many(events, notify=CHANNEL)
            assert len(seen.captured_queries) == 1
            assert list(listener.notifies(timeout=0.3, stop_after=1)) == []  # not committed
        heard = list(listener.notifies(timeout=5, stop_after=1))
        assert [n.channel for n in heard] == [CHANNEL]
        assert list(listener.notifies(timeout=0.3, stop_after=1)) == []  # once, not per row
        stored = dict(
            OutboxEvent.objects.filter(merchant=setup.merchant).values_list("id", "payload")
        )
        assert [stored[e.id]["data"]["order_id"] for e in events] == ["N-0", "N-1", "N-2"]

        with pytest.raises(RuntimeError), transaction.atomic():
            model_insert_many([_event(setup.merchant, "N-9")], notify=CHANNEL)
            raise RuntimeError("roll back")
        assert list(listener.notifies(timeout=0.5, stop_after=1)) == []


def _event(merchant, order_id):
    return OutboxEvent(
        merchant=merchant,
        event_type=EventType.PURCHASE_COMMITTED,
        payload={"data": {"order_id": order_id}},
    )
