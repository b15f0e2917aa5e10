"""A Redis Sentinel failover in the middle of a stream of purchases: a master, one replica and
three Sentinels on loopback; the api (gunicorn), the relay and the worker find Redis through the
Sentinels only. ``SENTINEL FAILOVER`` promotes the replica while purchases keep coming through the
api. Nothing committed is lost (every purchase's webhook reaches the receiver), the api answers
every request (no 5xx: its throttle degrades open while Redis moves), and afterwards the cache,
the Telegram limiter and the broker work against the new master."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import redis

from integrations.services import api_key_issue
from loyalty.models import Purchase
from outbox.services import webhook_endpoint_create
from tests.factories import make_customer, make_merchant
from tests.fixtures.processes import wait_until
from tests.scaleout.servers import redis_users_probe
from tests.scaleout.streams import delivered_purchases

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
#: Purchases before the failover is asked for, and after the Sentinels name the new master.
BEFORE, AFTER = 15, 15


def test_failover_mid_stream_loses_nothing(sentinel_group, stack, receiver, api):
    env = sentinel_group.env
    old, new = sentinel_group.master, sentinel_group.replica
    setup = make_merchant("Failover")
    endpoint, secret = webhook_endpoint_create(merchant=setup.merchant, url=receiver.url)
    customer = make_customer(setup.merchant)
    key = api_key_issue(merchant=setup.merchant).plaintext
    stack.worker(**env)
    stack.relay(**env)
    server = api(**env)

    answers: list[tuple[int, str]] = []  # (status, purchase id or the error)
    stop = threading.Event()

    def stream() -> None:
        with httpx.Client(base_url=server.url, timeout=15) as client:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    r = client.post(
                        "/api/integrations/v1/purchases",
                        json={
                            "customer_id": str(customer.id),
                            "amount_minor": 10_00,
                            "order_id": f"F-{n}",
                            "outlet_id": str(setup.outlet.id),
                        },
                        headers={
                            "Authorization": f"Bearer {key}",
                            "Idempotency-Key": str(uuid.uuid4()),
                        },
                    )
                except httpx.HTTPError as exc:
                    answers.append((0, repr(exc)))
                else:
                    answers.append((r.status_code, r.json().get("id", r.text)))
                time.sleep(0.05)

    streamer = threading.Thread(target=stream, daemon=True)
    streamer.start()
    try:
        wait_until(lambda: len(answers) >= BEFORE, timeout=60)
        sentinel_group.failover()
        moved = wait_until(
            lambda: sentinel_group.master_address() == ("127.0.0.1", new.port), timeout=30
        )
        assert moved
        wait_until(lambda: new.info("replication")["role"] == "master", timeout=30)
        wait_until(lambda: old.info("replication")["role"] == "slave", timeout=30)
        at_failover = len(answers)
        wait_until(lambda: len(answers) >= at_failover + AFTER, timeout=90)
    finally:
        stop.set()
        streamer.join(timeout=30)

    # The api answered every request, none with a 5xx or a dropped connection.
    assert [a for a in answers if a[0] != 201] == []
    committed = {pid for _, pid in answers}
    assert Purchase.objects.filter(merchant=setup.merchant).count() == len(committed)

    # Every committed purchase's webhook arrived (customer.created + one per purchase), signed;
    # those committed after the failover went through the new master's queues: the old one is
    # a read-only replica now.
    got = receiver.wait_for(1 + len(committed), timeout=90)
    delivered = set(delivered_purchases(got, secret))
    assert committed <= delivered, committed - delivered

    # The same api process: /ready's Redis check reaches the new master.
    ready = server.client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["redis"]["status"] == "ok"
    # A process configured through the Sentinels writes cache and limiter keys to the new master.
    redis_users_probe(
        {**stack.env, **env}, key="scaleout:after-failover", value="new-master", bot="failover-bot"
    )
    direct = redis.Redis(port=new.port)
    assert direct.keys("*scaleout:after-failover") and direct.keys("tg:rl:failover-bot:*")
    assert direct.keys("dramatiq:*")
    # The worker, relay and api hold connections to the new master: besides the Sentinels', the
    # old master's replica link and this test's own.
    mine = direct.client_id()
    clients = [
        c
        for c in direct.client_list()
        if "S" not in c["flags"] and not c["name"].startswith("sentinel-") and c["id"] != str(mine)
    ]
    assert len(clients) >= 3, clients
    assert "Traceback" not in stack.log("worker") + stack.log("relay")
