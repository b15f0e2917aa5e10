"""Three relays and three Dramatiq worker processes against one database as one system, while
purchases stream in: one relay and one worker are SIGKILLed at random moments and started
again. Afterwards nothing is lost, no stream (endpoint + customer) got a delivery out of order,
and the relays shared the work.

How the share is measured: a trigger on the delivery table (test-only, dropped afterwards) logs
every claim, a row going to ``leased`` under a new lease token, with the claiming session's
``application_name``; each relay and worker connects under its own name. Workers claim too (an
ordered stream's successor, handed on); the share is counted over the relays' claims only, and
leaving out the time from the relay's kill until its successor listens (two relays then).
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime

import pytest
from django.db import connection

from outbox.models import Delivery, DeliveryStatus
from outbox.services import webhook_endpoint_create
from outbox.wakeup import CHANNEL
from tests.chaos.rig import ledger_check
from tests.factories import make_customer, make_merchant
from tests.fixtures.processes import child_database_url, wait_until
from tests.scaleout.conftest import sessions
from tests.scaleout.streams import PurchaseStream

pytestmark = pytest.mark.slow

RELAYS = WORKERS = 3
#: Purchases streamed, at about this many a second, over this many customers (streams per
#: endpoint).
PURCHASES, RATE, CUSTOMERS = 150, 10.0, 12
#: Rows a relay claims at a time (see ``named``).
RELAY_BATCH = 3
#: Each relay's least share of the relays' claims (a loose bound: the claims race by design).
FAIR_SHARE = 0.10


@pytest.fixture
def claims_log(transactional_db) -> Iterator[None]:
    """A trigger records each claim's ``application_name`` (read by ``claims_by_session``)."""
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE scaleout_claim (app text NOT NULL, delivery_id bigint NOT NULL, "
            "at timestamptz NOT NULL DEFAULT clock_timestamp());"
            "CREATE FUNCTION scaleout_claim_log() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO scaleout_claim (app, delivery_id) "
            "VALUES (current_setting('application_name'), NEW.id); "
            "RETURN NEW; END $$;"
            f"CREATE TRIGGER scaleout_claim AFTER UPDATE ON {table} FOR EACH ROW "
            "WHEN (NEW.status = 'leased' AND NEW.lease_token IS DISTINCT FROM OLD.lease_token) "
            "EXECUTE FUNCTION scaleout_claim_log();"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute(
            f"DROP TRIGGER IF EXISTS scaleout_claim ON {table};"
            "DROP FUNCTION IF EXISTS scaleout_claim_log(); DROP TABLE IF EXISTS scaleout_claim;"
        )


def claims_by_session(*, outside: tuple[datetime, datetime] | None = None) -> Counter[str]:
    """Rows claimed per session name; ``outside``: leaving out those claimed in that window."""
    sql, args = "SELECT app, count(*) FROM scaleout_claim", []
    if outside:
        sql, args = sql + " WHERE at NOT BETWEEN %s AND %s", list(outside)
    with connection.cursor() as cursor:
        cursor.execute(sql + " GROUP BY app", args)
        return Counter(dict(cursor.fetchall()))


def database_now() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


def named(name: str) -> dict[str, str]:
    """The process's database sessions under ``name`` (``application_name``), and for a relay a
    small claim batch: with the default (200) whichever relay a NOTIFY wakes first takes every due
    row of this light load, and the others find nothing (correct, but it shows no sharing); with
    a few rows a claim, the woken relays claim side by side (``SKIP LOCKED``), as under a load
    that fills the batch."""
    return {
        "DATABASE_URL": f"{child_database_url()}?application_name={name}",
        "OUTBOX_RELAY_BATCH": str(RELAY_BATCH),
    }


def test_three_relays_three_workers_share_the_work_and_survive_kills(stack, receiver, claims_log):
    plan = random.Random(17)
    setup = make_merchant("Many")
    # Two endpoints, as in the chaos rig, whose ledger check this test reuses.
    for kind in ("steady", "flaky"):
        webhook_endpoint_create(merchant=setup.merchant, url=f"{receiver.url}/{kind}")
    people = [make_customer(setup.merchant) for _ in range(CUSTOMERS)]
    relays = [f"relay-{n}" for n in range(RELAYS)]
    workers = [f"worker-{n}" for n in range(WORKERS)]
    for name in workers:
        stack.worker(name, threads=2, **named(name))
    for name in relays:
        stack.relay(name, **named(name))

    stream = PurchaseStream(setup, people, prefix="M", rate=RATE, seed=18).start()
    started = time.monotonic()
    # One relay and one worker each die once, at random points of the stream's middle (counted
    # in purchases committed, not seconds: a busy machine commits more slowly).
    kills = sorted(
        [
            (plan.randint(PURCHASES // 5, PURCHASES * 3 // 5), plan.choice(relays), "relay"),
            (plan.randint(PURCHASES // 5, PURCHASES * 3 // 5), plan.choice(workers), "worker"),
        ]
    )
    try:
        for at, name, kind in kills:
            wait_until(lambda at=at: len(stream) >= at, timeout=300, interval=0.02)
            if kind == "relay":
                # Fair shares are counted while all three relays run: not from the kill until
                # the restarted one listens again.
                down = database_now()
            stack.stop(name, sig=signal.SIGKILL)
            time.sleep(plan.uniform(0.5, 2.0))
            if kind == "relay":
                stack.relay(name, **named(name))
                wait_until(
                    lambda name=name: sessions(application_name=name, query=f"LISTEN {CHANNEL}"),
                    timeout=120,
                )
                relay_away = (down, database_now())
            else:
                stack.worker(name, threads=2, **named(name))
        wait_until(lambda: len(stream) >= PURCHASES, timeout=300, interval=0.1)
    finally:
        stream.stop()

    total = Delivery.objects.count()
    wait_until(
        lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == total,
        timeout=120,
        interval=0.5,
    )
    time.sleep(1.0)  # a redelivery still in flight lands before the receiver is read
    # Nothing lost, nothing out of order within a stream, one sequence per delivery.
    report = ledger_check(receiver, seconds=time.monotonic() - started, actions=Counter())
    assert report.dead_by_policy == 0
    received = {r.json()["data"].get("order_id") for r in receiver.requests}
    assert set(stream.committed) <= received, set(stream.committed) - received

    claims = claims_by_session()
    shared = claims_by_session(outside=relay_away)
    by_relay = {name: shared[name] for name in relays}
    relay_total = sum(by_relay.values())
    print(f"claims: {dict(claims)}, with three relays up: {by_relay}; {report.line()}")
    assert set(claims) <= {*relays, *workers}, claims  # every claim came from our processes
    assert relay_total > 0
    for name, count in by_relay.items():
        assert count >= FAIR_SHARE * relay_total, (name, by_relay)
