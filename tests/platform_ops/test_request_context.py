"""Request ids (in, out, into outbox rows), the JSON access log, and slow-query logging."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.db import connection
from prometheus_client import REGISTRY

from core.logging import JsonFormatter
from outbox.models import OutboxEvent
from tests.factories import make_merchant


@pytest.fixture
def json_lines():
    """What the JSON formatter writes for a logger, formatted at emit time like in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    attached = []

    def attach(name: str, level: int = logging.INFO) -> None:
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        attached.append((logger, logger.level))
        logger.setLevel(level)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    attach.lines = lines
    yield attach
    for logger, level in attached:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_sane_client_request_id_is_kept_and_echoed(client, db):
    response = client.get("/live", headers={"X-Request-ID": "till-42.a_b"})
    assert response["X-Request-ID"] == "till-42.a_b"


@pytest.mark.parametrize("bad", ["x" * 65, "has space", "semi;colon", "ünïcode", ""])
def test_insane_request_id_is_replaced(client, db, bad):
    response = client.get("/live", headers={"X-Request-ID": bad})
    generated = response["X-Request-ID"]
    assert generated != bad and len(generated) == 32 and generated.isalnum()


def test_access_log_line_per_request(client, db, json_lines):
    json_lines("platform_ops.access", logging.INFO)
    client.get(
        "/api/integrations/v1/customers?phone=%2B79161234567", headers={"X-Request-ID": "req-1"}
    )
    [line] = [entry for entry in json_lines.lines() if entry.get("request_id") == "req-1"]
    assert line["method"] == "GET"
    assert line["route"] == "/api/integrations/v1/customers"
    assert line["status"] in (401, 403)
    assert line["duration_ms"] >= 0 and line["level"] == "INFO"
    assert "79161234567" not in json.dumps(line)


def test_request_id_reaches_the_outbox_event(client, settings, db):
    settings.ROOT_URLCONF = "tests.platform_ops.urls"
    merchant = make_merchant("Req shop").merchant
    response = client.post(
        f"/test/register?merchant={merchant.id}&phone=%2B79160000001",
        headers={"X-Request-ID": "req-outbox-1"},
    )
    assert response.status_code == 201
    event = OutboxEvent.objects.get(
        event_type="customer.created", customer_id=response.json()["id"]
    )
    assert event.request_id == "req-outbox-1"


def observed() -> tuple[float, float]:
    """(count, sum) of ``db_query_duration_seconds`` in this process."""
    return (
        REGISTRY.get_sample_value("db_query_duration_seconds_count"),
        REGISTRY.get_sample_value("db_query_duration_seconds_sum"),
    )


def test_slow_query_logged_as_template_without_parameters(settings, db, json_lines):
    settings.DB_SLOW_QUERY_MS = 50
    json_lines("platform_ops.slow_queries", logging.WARNING)
    count_before, sum_before = observed()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s), %s::text AS phone", [0.08, "+79161234567"])
        cursor.execute("SELECT %s::text", ["+79160000000"])  # fast: not logged
    [line] = json_lines.lines()
    assert line["msg"].startswith("slow query")
    assert line["sql"] == "SELECT pg_sleep(%s), %s::text AS phone"
    assert line["duration_ms"] >= 80
    assert "79161234567" not in json.dumps(line)
    count_after, sum_after = observed()
    assert count_after >= count_before + 2
    assert sum_after - sum_before >= 0.08


def test_slow_query_log_off_at_zero(settings, db, json_lines):
    settings.DB_SLOW_QUERY_MS = 0
    json_lines("platform_ops.slow_queries", logging.WARNING)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(0.06)")
    assert json_lines.lines() == []
