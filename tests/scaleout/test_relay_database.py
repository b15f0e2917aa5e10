"""RELAY_DATABASE_URL: the api and the workers go through a real PgBouncer in transaction-pooling
mode, the relay (and its LISTEN) talks to PostgreSQL directly, and NOTIFY from a write made
through PgBouncer wakes it."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import connection
from standardwebhooks import Webhook

from integrations.services import api_key_issue
from outbox.services import webhook_endpoint_create
from outbox.wakeup import CHANNEL, Listener
from tests.factories import make_customer, make_merchant
from tests.fixtures.processes import child_database_url, wait_until
from tests.scaleout.conftest import sessions
from tests.scaleout.servers import PgBouncer

pytestmark = pytest.mark.slow


def bouncer_url(pgbouncer: PgBouncer) -> str:
    s = connection.settings_dict
    return pgbouncer.url(s["USER"], s["PASSWORD"], s["NAME"])


def transactions_through(pgbouncer: PgBouncer) -> int:
    stats = pgbouncer.admin_show(connection.settings_dict["USER"], "STATS")
    return sum(int(row["total_xact_count"]) for row in stats if row["database"] != "pgbouncer")


def test_listener_on_the_direct_connection_hears_notify_sent_through_pgbouncer(
    pgbouncer, settings, transactional_db
):
    # The direct connection, told apart from this process's own by its application name.
    direct = {**connection.settings_dict}
    direct["OPTIONS"] = {**direct["OPTIONS"], "application_name": "relay-direct"}
    settings.RELAY_DATABASE = direct
    listener = Listener()
    try:
        assert listener.wait(0.2) is False  # connects and LISTENs; nothing to hear yet
        assert [row["application_name"] for row in sessions(query=f"LISTEN {CHANNEL}")] == [
            "relay-direct"
        ]

        def notify_through_pgbouncer() -> None:
            time.sleep(0.3)
            with psycopg.connect(bouncer_url(pgbouncer)) as conn, conn.transaction():
                conn.execute("SELECT pg_notify(%s, '')", [CHANNEL])

        sender = threading.Thread(target=notify_through_pgbouncer)
        started = time.monotonic()
        sender.start()
        assert listener.wait(10.0) is True
        assert time.monotonic() - started < 5.0
        sender.join()
    finally:
        listener.close()


def test_api_and_worker_through_pgbouncer_relay_direct(
    pgbouncer, stack, receiver, api, transactional_db
):
    setup = make_merchant("Pooled")
    endpoint, secret = webhook_endpoint_create(merchant=setup.merchant, url=receiver.url)
    customer = make_customer(setup.merchant)
    key = api_key_issue(merchant=setup.merchant).plaintext
    pooled = {
        "DATABASE_URL": bouncer_url(pgbouncer),
        "DB_PREPARE_THRESHOLD": "0",  # PgBouncer 1.18 in transaction mode: no prepared statements
        # Named, so that the relay's sessions can be found in pg_stat_activity.
        "RELAY_DATABASE_URL": child_database_url() + "?application_name=outbox-relay",
    }
    stack.worker(**pooled)
    stack.relay(**pooled)
    server = api(**pooled)
    wait_until(lambda: sessions(application_name="outbox-relay", query=f"LISTEN {CHANNEL}"))

    before = transactions_through(pgbouncer)
    assert server.client.get("/ready").status_code == 200
    response = server.client.post(
        "/api/integrations/v1/purchases",
        json={
            "customer_id": str(customer.id),
            "amount_minor": 120_00,
            "order_id": "B-1",
            "outlet_id": str(setup.outlet.id),
        },
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "pooled-1"},
    )
    assert response.status_code == 201, response.text

    got = receiver.wait_for(2, timeout=30)  # customer.created, purchase.committed
    by_type = {r.json()["type"]: r for r in got}
    payload = Webhook(secret).verify(
        by_type["purchase.committed"].body, by_type["purchase.committed"].headers
    )
    assert payload["data"]["order_id"] == "B-1"
    # The api's write went through PgBouncer (whose sessions log in as its own user); the
    # relay's sessions, its LISTEN and its claims, are direct.
    assert transactions_through(pgbouncer) > before
    assert sessions(usename=PgBouncer.server_user)
    relay_sessions = sessions(application_name="outbox-relay")
    assert {row["usename"] for row in relay_sessions} == {connection.settings_dict["USER"]}
    assert {row["query"] == f"LISTEN {CHANNEL}" for row in relay_sessions} == {True, False}
    assert "using RELAY_DATABASE_URL" in stack.log("relay")
    assert "Traceback" not in stack.log("worker") + stack.log("relay") + server.log()
