"""core.fast_sql reads and writes rows as the ORM would: same instances, same stored values."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.fast_sql import model_insert, model_row, model_rows
from outbox.models import EventType, OutboxEvent, WebhookEndpoint
from outbox.services import webhook_endpoint_create
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
