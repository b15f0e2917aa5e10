"""REDIS_SENTINELS + REDIS_SENTINEL_MASTER: every Redis user finds the master through a real
Sentinel. REDIS_URL points at a port where nothing listens, so only Sentinel can have found it."""

from __future__ import annotations

import os
from urllib.parse import urlparse

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, SentinelManagedSSLConnection
from standardwebhooks import Webhook

from core.redis_connection import redis_client
from loyalty.services import purchase_commit
from outbox.services import webhook_endpoint_create
from tests.factories import make_customer, make_merchant
from tests.scaleout.servers import free_port, redis_users_probe

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sentinel_env(sentinel, master: str | None = None) -> dict[str, str]:
    return {
        # Its host and port must be ignored: nothing listens there.
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "REDIS_SENTINELS": f"127.0.0.1:{free_port()},127.0.0.1:{sentinel.port}",
        "REDIS_SENTINEL_MASTER": master or sentinel.master,
    }


def test_client_factory_asks_sentinel_for_the_master(redis_sentinel, settings):
    real = urlparse(os.environ["REDIS_URL"])
    env = sentinel_env(redis_sentinel)
    settings.REDIS_URL = env["REDIS_URL"]
    # The first Sentinel is away: the next one answers.
    settings.REDIS_SENTINELS = [("127.0.0.1", free_port()), ("127.0.0.1", redis_sentinel.port)]
    settings.REDIS_SENTINEL_MASTER = redis_sentinel.master
    client = redis_client(socket_timeout=1)
    assert client.ping()
    assert client.connection_pool.get_master_address() == ("127.0.0.1", real.port)

    # What REDIS_URL still gives: username, password, database, TLS and its query options.
    settings.REDIS_URL = "rediss://probe:secret@not-used:1/3?socket_keepalive=true"
    pool = redis_client(socket_timeout=1).connection_pool
    assert pool.connection_class is SentinelManagedSSLConnection
    assert {k: pool.connection_kwargs[k] for k in ("username", "password", "db")} == {
        "username": "probe",
        "password": "secret",
        "db": 3,
    }
    assert pool.connection_kwargs["socket_keepalive"] is True
    assert pool.connection_kwargs["socket_timeout"] == 1
    settings.REDIS_URL = env["REDIS_URL"]

    settings.REDIS_SENTINEL_MASTER = "no-such-master"
    with pytest.raises(MasterNotFoundError):
        redis_client(socket_timeout=1, retry=Retry(NoBackoff(), 0)).ping()


def test_cache_limiter_and_broker_go_through_sentinel(redis_sentinel, stack, receiver, api):
    env = sentinel_env(redis_sentinel)
    direct = redis.Redis.from_url(os.environ["REDIS_URL"])
    setup = make_merchant("Sentinel")
    endpoint, secret = webhook_endpoint_create(merchant=setup.merchant, url=receiver.url)
    customer = make_customer(setup.merchant)
    stack.worker(**env)
    stack.relay(**env)
    server = api(**env)

    # Cache and Telegram limiter of a process configured through Sentinel.
    redis_users_probe(
        {**stack.env, **env}, key="scaleout:probe", value="through-sentinel", bot="sentinel-bot"
    )
    assert direct.keys("*scaleout:probe") and direct.keys("tg:rl:sentinel-bot:*")

    # /ready's Redis check.
    ready = server.client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["redis"]["status"] == "ok"

    # Broker round trip: the relay publishes, the worker consumes, the webhook arrives.
    purchase_commit(
        merchant=setup.merchant,
        customer_id=customer.id,
        amount_minor=10_00,
        order_id="S-1",
        outlet_id=setup.outlet.id,
    )
    got = receiver.wait_for(2, timeout=30)
    for request in got:
        Webhook(secret).verify(request.body, request.headers)
    assert direct.keys("dramatiq:*")  # the broker's keys, in the Redis that Sentinel named
