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


def _client_logged(client, json_lines, request_id: str, forwarded: str | None) -> str:
    json_lines("platform_ops.access", logging.INFO)
    headers = {"X-Request-ID": request_id}
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    client.get("/api/integrations/v1/customers", headers=headers)
    [line] = [e for e in json_lines.lines() if e.get("request_id") == request_id]
    return line["client"]


@pytest.mark.parametrize(
    ("trusted", "forwarded", "expected"),
    [
        # No proxy configured: the header is anyone's to forge, so it is ignored.
        ((), "203.0.113.9", "127.0.0.1"),
        # The test client's 127.0.0.1 is the proxy: the nearest hop it reports.
        (("127.0.0.1",), "203.0.113.9", "203.0.113.9"),
        # Two proxies: skip every trusted hop from the right.
        (("127.0.0.1", "10.0.0.0/8"), "198.51.100.7, 203.0.113.9, 10.1.2.3", "203.0.113.9"),
        # Only the last proxy trusted: the hop before it is the client as far as we know.
        (("127.0.0.1",), "203.0.113.9, 10.1.2.3", "10.1.2.3"),
        # A trusted proxy without the header, or with garbage in it: the proxy's address.
        (("127.0.0.1",), None, "127.0.0.1"),
        (("127.0.0.1",), "not-an-ip", "127.0.0.1"),
    ],
)
def test_client_address_believes_forwarded_for_from_trusted_proxies_only(
    client, db, settings, json_lines, trusted, forwarded, expected
):
    import ipaddress

    settings.TRUSTED_PROXY_NETWORKS = tuple(ipaddress.ip_network(t) for t in trusted)
    rid = f"xff-{len(trusted)}-{abs(hash(forwarded)) % 10_000}"
    assert _client_logged(client, json_lines, rid, forwarded) == expected


def test_malformed_trusted_proxies_stop_start_up_with_one_line():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TRUSTED_PROXIES": "10.0.0.0/8,not-a-network", "DEBUG": "1"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "TRUSTED_PROXIES must list IP addresses or networks" in done.stderr
