"""Fixtures of the scale-out tests: real PgBouncer, Redis Sentinel and RabbitMQ servers, started
once per session (only when a test asks for them), and a real gunicorn api.

* ``pgbouncer``: transaction pooling in front of the test database's PostgreSQL; its sessions
  log in as ``loyalty_pool`` so that ``pg_stat_activity`` tells them from direct ones.
* ``redis_sentinel``: a Sentinel monitoring the suite's throwaway Redis (``REDIS_URL``).
* ``rabbitmq`` (from ``tests/fixtures/brokers.py``, shared with the delivery tests): a throwaway
  RabbitMQ node.
* ``api``: ``start(**env)`` runs gunicorn with the ``stack`` environment plus ``env``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from django.db import connection

from tests.fixtures.processes import Stack
from tests.scaleout.servers import (
    PgBouncer,
    RedisSentinel,
    SentinelGroup,
    free_port,
    pg_direct,
    pgbouncer_in_front,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def scaleout_dir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="loyalty-scaleout-", dir="/tmp"))
    base.chmod(0o755)  # PgBouncer runs as the postgres user and must reach its folder
    yield base
    shutil.rmtree(base, ignore_errors=True)


def sessions(**where: str) -> list[dict[str, str]]:
    """Backends of the test database (``usename``, ``application_name``, last ``query``) that
    match ``where`` (column=value)."""
    sql = "SELECT usename, application_name, query FROM pg_stat_activity WHERE datname = %s"
    args: list[Any] = [connection.settings_dict["NAME"]]
    for column in where:
        assert column in ("usename", "application_name", "query")
        sql += f" AND {column} = %s"
        args.append(where[column])
    with pg_direct(connection.settings_dict) as conn:
        rows = conn.execute(sql, args).fetchall()
    return [{"usename": u, "application_name": a, "query": q} for u, a, q in rows]


@pytest.fixture(scope="session")
def pgbouncer(django_db_setup: Any, scaleout_dir: Path) -> Iterator[PgBouncer]:
    """Depends on ``django_db_setup`` so that it stops before the test database is dropped."""
    with pgbouncer_in_front(connection.settings_dict, scaleout_dir / "pgbouncer") as bouncer:
        yield bouncer


@pytest.fixture(scope="session")
def redis_sentinel(scaleout_dir: Path) -> Iterator[RedisSentinel]:
    port = urlparse(os.environ["REDIS_URL"]).port
    assert port, "REDIS_URL must name a TCP port"
    sentinel = RedisSentinel.start(scaleout_dir / "sentinel", redis_port=port)
    yield sentinel
    sentinel.stop()


@dataclass
class Api:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture
def api(stack: Stack, tmp_path: Path) -> Iterator[Callable[..., Api]]:
    servers: list[Api] = []

    def start(**env: str) -> Api:
        port = free_port()
        log_path = tmp_path / f"gunicorn-{port}.log"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "-c",
                "config/gunicorn.py",
            ],
            cwd=ROOT,
            env={
                **stack.env,
                "BIND": f"127.0.0.1:{port}",
                "WEB_CONCURRENCY": "1",
                "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / f"prom-{port}"),
                **env,
            },
            stdout=log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = Api(url=f"http://127.0.0.1:{port}", proc=proc, log_path=log_path)
        servers.append(server)
        deadline = time.monotonic() + 40
        while True:
            assert proc.poll() is None, f"gunicorn exited:\n{server.log()}"
            try:
                if server.client.get("/live", timeout=1).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"gunicorn did not serve /live:\n{server.log()}"
            time.sleep(0.1)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def sentinel_group(tmp_path: Path) -> Iterator[SentinelGroup]:
    """Its own master, replica and three Sentinels: a failover changes them for good."""
    group = SentinelGroup.start(tmp_path / "sentinel-group")
    yield group
    group.stop()
