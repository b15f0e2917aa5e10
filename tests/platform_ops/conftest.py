"""Fixtures of the operations tests.

* ``ops_services``: our own throwaway PostgreSQL and Redis (``.ci/services.sh``), migrated once
  per session, plus a copy of the database with the newest migration of ``platform_ops``
  unapplied (``behind``). Outage tests stop and start these, never the shared ones.
* ``api_server``: a real gunicorn serving ``config.wsgi`` with the environment a test gives.
* ``hung_listener``: a TCP port that accepts connections and never answers.
* ``own_cache`` (autouse): the Django cache points at our own Redis, emptied per test, so the
  tests neither see nor disturb anyone else's keys.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from django.core.cache import cache

from core.cache import cache_breaker
from core.schema import schema_state
from platform_ops.selectors import site_modes_forget
from tests.fixtures.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / ".ci" / "services.sh"


@dataclass
class OpsServices:
    """Our own PostgreSQL + Redis; ``database_url`` is migrated, ``behind_url`` lacks the newest
    ``platform_ops`` migration."""

    dir: Path
    env: dict[str, str]

    @property
    def database_url(self) -> str:
        return self.env["DATABASE_URL"]

    @property
    def behind_url(self) -> str:
        return self.database_url.rsplit("/", 1)[0] + "/behind"

    @property
    def redis_url(self) -> str:
        return self.env["REDIS_URL"]

    def ctl(self, command: str) -> None:
        subprocess.run([str(SERVICES), command, str(self.dir)], check=True, capture_output=True)


def manage(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def child_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({"LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1", **overrides})
    return env


@pytest.fixture(scope="session")
def ops_services() -> Iterator[OpsServices]:
    base = Path(tempfile.mkdtemp(prefix="ops-services-", dir="/tmp"))
    base.chmod(0o755)  # the postgres user must reach the cluster inside
    where = base / "services"
    try:
        started = subprocess.run(
            [str(SERVICES), "start", str(where)], check=True, capture_output=True, text=True
        )
        env = {}
        for line in started.stdout.splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value
        services = OpsServices(dir=where, env=env)
        migrated = manage("migrate", "-v0", env=child_env(DATABASE_URL=services.database_url))
        assert migrated.returncode == 0, migrated.stderr
        with psycopg.connect(
            services.database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE behind TEMPLATE loyalty")
        back = manage(
            "migrate",
            "platform_ops",
            "zero",
            "-v0",
            env=child_env(DATABASE_URL=services.behind_url),
        )
        assert back.returncode == 0, back.stderr
        yield services
    finally:
        subprocess.run([str(SERVICES), "stop", str(where)], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(autouse=True)
def own_cache(request: pytest.FixtureRequest, settings: Any) -> Iterator[None]:
    services: OpsServices = request.getfixturevalue("ops_services")
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": services.redis_url,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    cache.clear()
    site_modes_forget()
    cache_breaker.succeeded()
    yield
    site_modes_forget()
    cache_breaker.succeeded()
    schema_state.forget()


@dataclass
class ApiServer:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    multiproc_dir: Path
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, path, **kwargs)

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
def api_server(tmp_path: Path) -> Iterator[Any]:
    """``start(**env)`` runs gunicorn (``WEB_CONCURRENCY`` workers) and waits for /live."""
    servers: list[ApiServer] = []

    def start(workers: int = 1, **env: str) -> ApiServer:
        port = free_port()
        multiproc = tmp_path / f"prom-{port}"
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
            env=child_env(
                BIND=f"127.0.0.1:{port}",
                WEB_CONCURRENCY=str(workers),
                PROMETHEUS_MULTIPROC_DIR=str(multiproc),
                **env,
            ),
            stdout=log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = ApiServer(
            url=f"http://127.0.0.1:{port}", proc=proc, log_path=log_path, multiproc_dir=multiproc
        )
        servers.append(server)
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"gunicorn exited:\n{server.log()}"
            try:
                if server.get("/live", timeout=1).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"gunicorn did not serve /live:\n{server.log()}"
            time.sleep(0.1)

    yield start
    for server in servers:
        server.stop()


class HungListener:
    """Accepts TCP connections and never sends a byte: a dependency that hangs."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.port = self._sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for conn in self._held:
            conn.close()
        self._sock.close()


@pytest.fixture
def hung_listener() -> Iterator[HungListener]:
    listener = HungListener()
    yield listener
    listener.close()


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = fn(*args, **kwargs)
    return result, time.monotonic() - started
