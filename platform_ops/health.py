"""Operations endpoints: /health, /healthz, /live, /ready, /db/health.

Each check runs in a worker thread under one deadline (:data:`CHECK_DEADLINE_SECONDS`), so an
answer comes within 2 s even when PostgreSQL or Redis accepts connections and then never
answers; a check that misses the deadline is reported as failed with ``timeout``. Each check
also carries its own short timeouts (PostgreSQL: connect 2 s, the libpq minimum, and a 1 s
statement timeout on a separate connection; Redis: 0.5 s socket timeouts, no retries), so the
threads left behind by a hung dependency finish soon.

Answers name each check and what failed, never hosts or credentials:

* ``/health`` (``/healthz``): ``ok``; ``degraded`` (200) when Redis or the schema check fails;
  ``fail`` (503) when the database does.
* ``/ready``: 200 only when the database answers, every migration is applied and Redis (when
  configured) answers; else 503 with ``reasons``.
* ``/live``: 200 while the process serves; touches nothing.
* Both ``/health`` and ``/ready`` carry ``relay``: the relay's heartbeat
  (:func:`platform_ops.heartbeat.relay_heartbeat_state`: ``ok``, ``stale`` past 60 s, ``unknown``
  when never seen or the cache is away). A stale heartbeat makes ``/health`` ``degraded`` with
  ``relay`` among ``failing``; ``/ready`` stays 200 and lists it under ``warnings``: a dead relay
  stops delivery, not the api, and taking every api instance out of the load balancer for it
  would turn a delivery delay into an outage (docs/operations.md, "Relay heartbeat").
* ``/db/health``: one database round trip and its latency.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import psycopg
import redis
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.redis_connection import redis_client
from core.schema import migrations_missing, schema_behind_cached
from platform_ops.heartbeat import relay_heartbeat_state

#: Budget of one answer's checks; CONTRACT promises an answer within 2 s.
CHECK_DEADLINE_SECONDS = 1.5
#: PostgreSQL refuses connect timeouts under 2 s (libpq rule); the deadline above still holds.
DB_CONNECT_TIMEOUT_SECONDS = 2
DB_STATEMENT_TIMEOUT_MS = 1000
REDIS_TIMEOUT_SECONDS = 0.5

Check = Callable[[], dict[str, Any]]

# Enough threads that checks queued behind ones stuck on a hung dependency still run in time.
_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="health")
_redis_lock = threading.Lock()
_redis_client: redis.Redis | None = None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _postgres_round_trip() -> None:
    """``SELECT 1`` on a fresh connection with short timeouts, apart from Django's (a request's
    connection state and pool are left alone)."""
    db = connections["default"].settings_dict
    extra = {
        key: value
        for key, value in db.get("OPTIONS", {}).items()
        if key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "target_session_attrs")
    }
    with psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"],
        host=db["HOST"],
        port=db["PORT"] or None,
        connect_timeout=DB_CONNECT_TIMEOUT_SECONDS,
        options=f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS}",
        application_name="health",
        autocommit=True,
        **extra,
    ) as conn:
        conn.execute("SELECT 1").fetchone()


def _sqlite_round_trip() -> None:
    conn = connections["default"]
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        conn.close()


def check_database() -> dict[str, Any]:
    started = time.perf_counter()
    if connections["default"].vendor == "postgresql":
        _postgres_round_trip()
    else:
        _sqlite_round_trip()
    return {"status": "ok", "latency_ms": _ms(started)}


def _redis() -> redis.Redis:
    global _redis_client
    with _redis_lock:
        if _redis_client is None:
            _redis_client = redis_client(
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                retry=Retry(NoBackoff(), 0),
            )
        return _redis_client


def check_redis() -> dict[str, Any]:
    if not settings.REDIS_URL:
        return {"status": "skipped", "detail": "not configured (embedded cache and broker)"}
    started = time.perf_counter()
    _redis().ping()
    return {"status": "ok", "latency_ms": _ms(started)}


def check_migrations() -> dict[str, Any]:
    """Asks the database every time: /ready must be honest right after ``migrate``."""
    try:
        missing = migrations_missing()
    finally:
        connections["default"].close()
    if missing:
        return {
            "status": "fail",
            "detail": f"{len(missing)} migrations not applied",
            "missing": missing[:20],
        }
    return {"status": "ok"}


def check_schema() -> dict[str, Any]:
    """The api's cached view of the schema (degraded mode when behind); cheap once known."""
    try:
        missing = schema_behind_cached()
    finally:
        connections["default"].close()
    if missing:
        detail = f"{len(missing)} migrations not applied; writes refused"
        return {"status": "fail", "detail": detail}
    return {"status": "ok"}


def run_checks(checks: dict[str, Check]) -> dict[str, dict[str, Any]]:
    futures = {name: _pool.submit(fn) for name, fn in checks.items()}
    deadline = time.monotonic() + CHECK_DEADLINE_SECONDS
    results: dict[str, dict[str, Any]] = {}
    for name, future in futures.items():
        try:
            results[name] = future.result(timeout=max(deadline - time.monotonic(), 0.01))
        except FutureTimeout:
            detail = f"timeout (no answer in {CHECK_DEADLINE_SECONDS} s)"
            results[name] = {"status": "fail", "detail": detail}
        except Exception as exc:  # the check's failure is the answer, not an error of ours
            results[name] = {"status": "fail", "detail": exc.__class__.__name__}
    return results


def _relay_result(future: Future[dict[str, object]], submitted: float) -> dict[str, Any]:
    """The relay heartbeat, read in the pool under the checks' deadline (a hung cache)."""
    remaining = max(submitted + CHECK_DEADLINE_SECONDS - time.monotonic(), 0.01)
    try:
        return dict(future.result(timeout=remaining))
    except FutureTimeout:
        return {"status": "unknown", "detail": "timeout reading the heartbeat"}
    except Exception as exc:
        return {"status": "unknown", "detail": exc.__class__.__name__}


def _failing(results: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(name for name, result in results.items() if result["status"] == "fail")


@require_safe
def health(request: HttpRequest) -> JsonResponse:
    submitted, relay = time.monotonic(), _pool.submit(relay_heartbeat_state)
    results = run_checks({"database": check_database, "redis": check_redis, "schema": check_schema})
    failing = _failing(results)
    relay_result = _relay_result(relay, submitted)
    if relay_result["status"] == "stale":
        failing.append("relay")
    if "database" in failing:
        overall, code = "fail", 503
    elif failing:
        overall, code = "degraded", 200
    else:
        overall, code = "ok", 200
    body = {"status": overall, "failing": failing, "checks": results, "relay": relay_result}
    return JsonResponse(body, status=code)


@require_safe
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    checks: dict[str, Check] = {"database": check_database, "migrations": check_migrations}
    if settings.REDIS_URL:
        checks["redis"] = check_redis
    submitted, relay = time.monotonic(), _pool.submit(relay_heartbeat_state)
    results = run_checks(checks)
    failing = _failing(results)
    body: dict[str, Any] = {"status": "fail" if failing else "ok", "checks": results}
    if failing:
        body["reasons"] = [f"{name}: {results[name].get('detail', 'failed')}" for name in failing]
    body["relay"] = _relay_result(relay, submitted)
    if body["relay"]["status"] == "stale":
        body["warnings"] = [f"relay: heartbeat {body['relay']['age_seconds']} s old"]
    return JsonResponse(body, status=503 if failing else 200)


@require_safe
def db_health(request: HttpRequest) -> JsonResponse:
    result = run_checks({"database": check_database})["database"]
    body = {"status": result["status"], "database": connections["default"].vendor, **result}
    return JsonResponse(body, status=200 if result["status"] == "ok" else 503)
