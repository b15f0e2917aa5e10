"""`make run`'s start path on SQLite with the in-process broker: migrate, demo, serve, deliver."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.fixtures.processes import wait_until
from tests.fixtures.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def printed_json(stdout: str) -> dict:
    return json.loads(re.search(r"\{.*?\n\}", stdout, re.S).group(0))


def answers(url: str, predicate) -> bool:
    try:
        return predicate(httpx.get(url, timeout=2))
    except httpx.HTTPError:
        return False


def test_embedded_run_serves_and_delivers(tmp_path):
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PROMETHEUS_MULTIPROC_DIR"}
    }
    env.update(
        {
            "DEBUG": "1",
            "OUTBOX_ALLOW_PRIVATE_TARGETS": "1",
            "PORT": str(port),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        }
    )

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return result.stdout

    manage("migrate", "--noinput", "-v", "0")
    save = str(tmp_path / "demo.env")
    first = manage("demo_setup", "--port", str(port), "--save", save)
    again = manage("demo_setup", "--port", str(port), "--save", save)
    info = printed_json(again)
    assert printed_json(first)["merchant_id"] == info["merchant_id"]  # idempotent
    log = tmp_path / "gunicorn.log"
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "config.wsgi:application", "-c", "config/gunicorn.py"],
        cwd=ROOT,
        env={**env, "BIND": f"127.0.0.1:{port}"},
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers(f"{base}/health", lambda r: r.status_code == 200), timeout=30)
        assert httpx.get(f"{base}/health").json()["status"] == "ok"
        # the printed curl line for a purchase works as printed
        curl = next(line for line in again.splitlines() if "/purchases" in line)
        result = subprocess.run(
            ["bash", "-c", curl.strip()], capture_output=True, text=True, timeout=30
        )
        purchase = json.loads(result.stdout)
        assert purchase["customer_id"] == info["customer_id"], result.stdout
        # the demo receiver verified the purchase.committed webhook (delivered in-process)
        wait_until(
            lambda: answers(
                f"{base}/demo/webhooks",
                lambda r: any(m["type"] == "purchase.committed" for m in r.json()["received"]),
            ),
            timeout=20,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    # nothing failed on the way, in the request nor in the in-process relay's jobs (SQLite has
    # no row locks, no LATERAL, no ``= ANY``: the hot paths' plain SQL must stay portable)
    errors = [line for line in log.read_text().splitlines() if '"level": "ERROR"' in line]
    assert not errors, errors[:3]
