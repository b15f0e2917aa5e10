"""Operations endpoints: /health, /healthz, /live, /ready, /db/health.

Each check runs in a worker thread with a deadline so the answer comes within 2 s even when a
dependency hangs; a check that does not finish in time is reported as ``timeout``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse

#: Total budget of one health answer; CONTRACT promises an answer within 2 s.
CHECK_DEADLINE_SECONDS = 1.5

_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="health")


def _db_check() -> dict[str, Any]:
    started = time.perf_counter()
    conn = connections["default"]
    try:
        with conn.cursor() as cursor:
            if conn.vendor == "postgresql":
                cursor.execute("SET LOCAL statement_timeout = 1000")
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        conn.close()
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _redis_check() -> dict[str, Any]:
    if not settings.REDIS_URL:
        return {"status": "ok", "detail": "embedded (no Redis configured)"}
    started = time.perf_counter()
    cache.set("health:ping", "1", timeout=5)
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _migrations_check() -> dict[str, Any]:
    conn = connections["default"]
    try:
        executor = MigrationExecutor(conn)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    finally:
        conn.close()
    if plan:
        return {"status": "fail", "detail": f"{len(plan)} migrations not applied"}
    return {"status": "ok"}


def run_checks(checks: dict[str, Callable[[], dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    futures = {name: _pool.submit(fn) for name, fn in checks.items()}
    deadline = time.monotonic() + CHECK_DEADLINE_SECONDS
    results: dict[str, dict[str, Any]] = {}
    for name, future in futures.items():
        try:
            results[name] = future.result(timeout=max(deadline - time.monotonic(), 0.01))
        except FutureTimeout:
            results[name] = {"status": "fail", "detail": "timeout"}
        except Exception as exc:  # the check's failure is the answer, not an error of ours
            results[name] = {"status": "fail", "detail": exc.__class__.__name__}
    return results


def health(request: HttpRequest) -> JsonResponse:
    results = run_checks({"database": _db_check, "redis": _redis_check})
    if results["database"]["status"] != "ok":
        overall, code = "fail", 503
    elif any(r["status"] != "ok" for r in results.values()):
        overall, code = "degraded", 200
    else:
        overall, code = "ok", 200
    return JsonResponse({"status": overall, "checks": results}, status=code)


def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def ready(request: HttpRequest) -> JsonResponse:
    checks: dict[str, Callable[[], dict[str, Any]]] = {
        "database": _db_check,
        "migrations": _migrations_check,
    }
    if settings.REDIS_URL:
        checks["redis"] = _redis_check
    results = run_checks(checks)
    failing = sorted(name for name, r in results.items() if r["status"] != "ok")
    body = {"status": "fail" if failing else "ok", "checks": results}
    if failing:
        body["reasons"] = [f"{name}: {results[name].get('detail', 'failed')}" for name in failing]
    return JsonResponse(body, status=503 if failing else 200)


def db_health(request: HttpRequest) -> JsonResponse:
    result = run_checks({"database": _db_check})["database"]
    return JsonResponse(result, status=200 if result["status"] == "ok" else 503)
