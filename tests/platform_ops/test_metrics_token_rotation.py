"""METRICS_TOKEN rotation: during the overlap METRICS_TOKEN lists the new and the old token
(comma-separated) and both open /metrics; once the old one is dropped it gets 401. Over HTTP,
against gunicorn, with the tokens never written to the log."""

from __future__ import annotations

import subprocess
import sys

from tests.platform_ops.conftest import ROOT, child_env

OLD = "old-scrape-token-4f1c"
NEW = "new-scrape-token-9a2e"


def _status(server, token: str | None, *, bearer: bool = False) -> int:
    headers = {}
    if token is not None:
        headers = {"Authorization": f"Bearer {token}"} if bearer else {"X-Metrics-Token": token}
    return server.get("/metrics", headers=headers).status_code


def test_old_and_new_accepted_during_the_overlap_old_refused_after(ops_services, api_server):
    services = {"DATABASE_URL": ops_services.database_url, "REDIS_URL": ops_services.redis_url}
    overlap = api_server(METRICS_TOKEN=f"{NEW}, {OLD}", **services)
    assert _status(overlap, NEW) == 200
    assert _status(overlap, OLD) == 200
    assert _status(overlap, OLD, bearer=True) == 200  # Prometheus's authorization
    assert _status(overlap, None) == 401
    assert _status(overlap, "wrong") == 401
    assert _status(overlap, f"{NEW}, {OLD}") == 401  # the list itself is no token
    assert _status(overlap, "") == 401
    overlap.stop()

    after = api_server(METRICS_TOKEN=NEW, **services)
    assert _status(after, NEW) == 200
    assert _status(after, OLD) == 401
    assert _status(after, OLD, bearer=True) == 401
    after.stop()
    for server in (overlap, after):
        log = server.log()
        assert OLD not in log and NEW not in log


def test_a_single_token_keeps_working_as_before(client, settings):
    settings.METRICS_TOKEN = NEW
    assert client.get("/metrics", headers={"X-Metrics-Token": NEW}).status_code == 200
    assert client.get("/metrics", headers={"X-Metrics-Token": NEW[:-1]}).status_code == 401
    assert client.get("/metrics").status_code == 401


def test_a_token_list_of_only_commas_stops_start_up():
    env = child_env(METRICS_TOKEN=" , ,", DEBUG="0", SECRET_KEY="x" * 40)
    env.pop("METRICS_PUBLIC", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "METRICS_TOKEN holds no token" in done.stderr
