"""`make run`'s start path on SQLite with the in-process broker: migrate, demo, serve, deliver."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    first = subprocess.run(
        [sys.executable, "manage.py", "demo_setup", "--port", str(port)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    again = subprocess.run(
        [sys.executable, "manage.py", "demo_setup", "--port", str(port)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    info = json.loads(re.search(r"\{.*?\n\}", again.stdout, re.S).group(0))
    assert (
        json.loads(re.search(r"\{.*?\n\}", first.stdout, re.S).group(0))["merchant_id"]
        == info["merchant_id"]
    )
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "config.wsgi:application", "-c", "config/gunicorn.py"],
        cwd=ROOT,
        env={**env, "BIND": f"127.0.0.1:{port}"},
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "gunicorn.log", "w"),
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
            time.sleep(0.2)
        assert httpx.get(f"{base}/health").json()["status"] == "ok"
        # the printed curl line for a purchase works as printed
        curl = next(line for line in again.stdout.splitlines() if "/purchases" in line)
        result = subprocess.run(
            ["bash", "-c", curl.strip()], capture_output=True, text=True, timeout=30
        )
        purchase = json.loads(result.stdout)
        assert purchase["customer_id"] == info["customer_id"], result.stdout
        # the demo receiver verified the purchase.committed webhook (delivered in-process)
        deadline = time.monotonic() + 20
        while True:
            received = httpx.get(f"{base}/demo/webhooks").json()["received"]
            if any(m["type"] == "purchase.committed" for m in received):
                break
            assert time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
            time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
