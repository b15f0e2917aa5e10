"""The one place Redis clients are made, for every user: cache, Dramatiq broker, Telegram limiter,
health checks.

Without ``REDIS_SENTINELS`` a client connects to ``REDIS_URL`` as it is. With it, the client asks
the Sentinels (``REDIS_SENTINELS``) for the address of the master named
``REDIS_SENTINEL_MASTER`` before each new connection, and drops its pooled connections when the
master moved (a failover); ``REDIS_URL`` then supplies only the username, password, database
number, TLS (``rediss://``) and query options, never the host or port.

Reads ``django.conf.settings`` when called, never at import; imports nothing of ours.
"""

from __future__ import annotations

from typing import Any, ClassVar

import redis
from django.conf import settings
from django_redis.pool import ConnectionFactory
from dramatiq.broker import Consumer
from dramatiq.brokers.redis import RedisBroker as _DramatiqRedisBroker
from redis.backoff import NoBackoff
from redis.connection import ConnectionPool, SSLConnection, parse_url
from redis.retry import Retry
from redis.sentinel import Sentinel

#: Longest wait for one Sentinel's answer when the caller gave no socket timeout; the next
#: Sentinel in the list is asked after it.
SENTINEL_TIMEOUT_SECONDS = 1.0


def redis_client(**options: Any) -> redis.Redis:
    """A client of the configured Redis; ``options`` are :class:`redis.Redis` keyword arguments
    (``socket_timeout``, ``socket_connect_timeout``, ``retry``...)."""
    url = settings.REDIS_URL
    if not url:
        raise RuntimeError("Redis is not configured (REDIS_URL is not set)")
    if not settings.REDIS_SENTINELS:
        return redis.Redis.from_url(url, **options)
    connection = parse_url(url)
    connection.pop("host", None)
    connection.pop("port", None)
    if connection.pop("connection_class", None) is SSLConnection:
        connection["ssl"] = True  # SentinelConnectionPool picks its TLS connection class
    lookup = {
        "socket_timeout": options.get("socket_timeout") or SENTINEL_TIMEOUT_SECONDS,
        "socket_connect_timeout": options.get("socket_connect_timeout") or SENTINEL_TIMEOUT_SECONDS,
        # Asking the next Sentinel is the retry: redis-py's default backoff on one that is away
        # would outlast the health checks' deadline.
        "retry": Retry(NoBackoff(), 0),
    }
    sentinel = Sentinel(settings.REDIS_SENTINELS, sentinel_kwargs=lookup)
    # The URL's query options win over the caller's, as in Redis.from_url.
    return sentinel.master_for(settings.REDIS_SENTINEL_MASTER, **{**options, **connection})


class CacheConnectionFactory(ConnectionFactory):
    """django-redis's connections, from :func:`redis_client` (``CACHES`` ``CONNECTION_FACTORY``).

    django-redis keeps one pool per ``LOCATION`` for the process; only how that pool is made
    changes, so the cache finds the master exactly as the other users do."""

    #: Our own pools, apart from those of django-redis's default factory.
    _pools: ClassVar[dict[str, ConnectionPool]] = {}

    def get_connection_pool(self, params: dict[str, Any]) -> ConnectionPool:
        client = redis_client(
            socket_timeout=params.get("socket_timeout"),
            socket_connect_timeout=params.get("socket_connect_timeout"),
        )
        return client.connection_pool


#: Longest an idle consumer sleeps between two fetches. Dramatiq's Redis consumer backs off up
#: to the worker timeout (1 s by default) while its queue is empty, so a message sent to an idle
#: worker (a quiet merchant's webhook) waited up to a second; at this cap an idle worker process
#: asks Redis about ten times a second per queue.
IDLE_POLL_MS = 100
#: Messages of the outbound queue (webhook and Telegram deliveries) one worker process takes at
#: once. Dramatiq's default is twice its threads, and a process takes all it may in one fetch:
#: the few messages of a backlog of ordered streams' heads (each then hands its streams on for
#: up to 10 s) all went to the process that fetched first, and the other one stayed idle.
OUTBOUND_PREFETCH = 4
OUTBOUND_QUEUE = "outbound"


class RedisBroker(_DramatiqRedisBroker):
    """Dramatiq's Redis broker on :func:`redis_client`, or on ``url`` when one is given
    (``DRAMATIQ_BROKER_URL=redis://...``, used as it is); idle consumers poll at least every
    ``IDLE_POLL_MS`` and a process holds at most ``OUTBOUND_PREFETCH`` outbound messages."""

    def __init__(self, *, url: str | None = None, **options: Any) -> None:
        client = redis.Redis.from_url(url) if url else redis_client()
        super().__init__(client=client, **options)

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        if queue_name == OUTBOUND_QUEUE:
            prefetch = min(prefetch, OUTBOUND_PREFETCH)
        return super().consume(queue_name, prefetch, min(timeout, IDLE_POLL_MS))
