"""Health endpoints against a real gunicorn: dependencies up, stopped, and hanging.

CONTRACT: every operations endpoint answers within 2 s whatever the dependencies do; /health
tells ``degraded`` (Redis) from ``fail`` (database) and names the failing check; /ready is 503
with reasons unless the database, the migrations and Redis are all fine.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.platform_ops.conftest import timed

pytestmark = pytest.mark.slow

#: CONTRACT's promise, measured at the client.
BUDGET_SECONDS = 2.0
ENDPOINTS = ("/health", "/healthz", "/ready", "/db/health", "/live")


def answers(server) -> dict[str, tuple[int, dict, float]]:
    """Every endpoint at once (a probe storm), each timed from the client."""

    def one(path: str) -> tuple[int, dict, float]:
        response, elapsed = timed(server.request, "GET", path, headers={"Connection": "close"})
        return response.status_code, response.json(), elapsed

    with ThreadPoolExecutor(len(ENDPOINTS)) as pool:
        got = dict(zip(ENDPOINTS, pool.map(one, ENDPOINTS), strict=True))
    for path, (_, _, elapsed) in got.items():
        assert elapsed < BUDGET_SECONDS, f"{path} took {elapsed:.2f}s"
    return got


def test_all_ok_in_process(client, db):
    body = client.get("/health").json()
    assert body["status"] == "ok", body
    assert body["failing"] == []
    assert set(body["checks"]) == {"database", "redis", "schema"}
    assert client.get("/ready").status_code == 200
    db_body = client.get("/db/health").json()
    assert db_body["status"] == "ok" and db_body["latency_ms"] >= 0
    assert client.get("/live").json() == {"status": "ok"}


def test_postgres_stopped_then_back(ops_services, api_server):
    server = api_server(DATABASE_URL=ops_services.database_url, REDIS_URL=ops_services.redis_url)
    before = answers(server)
    assert {path: code for path, (code, _, _) in before.items()} == dict.fromkeys(ENDPOINTS, 200)
    assert before["/health"][1]["status"] == "ok"

    ops_services.ctl("pg-stop")
    try:
        down = answers(server)
    finally:
        ops_services.ctl("pg-start")
    code, body, _ = down["/health"]
    assert code == 503 and body["status"] == "fail" and "database" in body["failing"], body
    assert down["/healthz"][0] == 503
    code, body, _ = down["/ready"]
    assert code == 503 and any(r.startswith("database:") for r in body["reasons"]), body
    assert down["/db/health"][0] == 503 and down["/db/health"][1]["status"] == "fail"
    assert down["/live"][0] == 200

    # Back without a restart of the api.
    after = answers(server)
    assert after["/health"][0] == 200 and after["/ready"][0] == 200


def test_redis_stopped_is_degraded_not_fail(ops_services, api_server):
    server = api_server(DATABASE_URL=ops_services.database_url, REDIS_URL=ops_services.redis_url)
    ops_services.ctl("redis-stop")
    try:
        down = answers(server)
    finally:
        ops_services.ctl("redis-start")
    code, body, _ = down["/health"]
    assert code == 200 and body["status"] == "degraded" and body["failing"] == ["redis"], body
    code, body, _ = down["/ready"]
    assert code == 503 and [r.split(":")[0] for r in body["reasons"]] == ["redis"], body
    assert down["/db/health"][0] == 200
    assert down["/live"][0] == 200


def test_hung_database_answers_in_time(ops_services, api_server, hung_listener):
    server = api_server(
        DATABASE_URL=f"postgres://loyalty:loyalty@127.0.0.1:{hung_listener.port}/loyalty",
        REDIS_URL=ops_services.redis_url,
    )
    for _ in range(2):  # a second round: threads stuck from the first must not delay it
        got = answers(server)
        code, body, _ = got["/health"]
        assert code == 503 and body["status"] == "fail", body
        assert body["checks"]["database"]["detail"].startswith("timeout"), body
        assert got["/ready"][0] == 503
        assert got["/db/health"][0] == 503
        assert got["/live"][0] == 200


def test_hung_redis_answers_in_time(ops_services, api_server, hung_listener):
    server = api_server(
        DATABASE_URL=ops_services.database_url,
        REDIS_URL=f"redis://127.0.0.1:{hung_listener.port}/0",
    )
    for _ in range(2):
        got = answers(server)
        code, body, _ = got["/health"]
        assert code == 200 and body["status"] == "degraded" and body["failing"] == ["redis"], body
        code, body, _ = got["/ready"]
        assert code == 503 and body["reasons"][0].startswith("redis:"), body
        assert got["/db/health"][0] == 200
        assert got["/live"][0] == 200
