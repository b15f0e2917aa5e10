"""Fixtures for the operations scripts: a runner, fake HTTP servers and a real PostgreSQL.

These tests need neither Django nor the app: they run the scripts as an operator would.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from tests.fixtures.servers import free_port

from .fakes import FakeIntegrations, FakeOps

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = REPO_ROOT / "scripts"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def line(self, step: str) -> str:
        """The step line of ``step`` ("[ok]   health ..."), or "" when the step never ran."""
        for line in self.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0].startswith("[") and parts[1] == step:
                return line
        return ""


def run_script(
    name: str,
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
    stdin: str | None = None,
) -> Result:
    """Run scripts/<name> with a clean, predictable environment plus ``env``."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PG", "SMOKE_", "BACKUP_", "DEPLOY_"))
        and k
        not in (
            "DATABASE_URL",
            "BASE_URL",
            "METRICS_TOKEN",
            "INTEGRATION_API_KEY",
            "NO_COMPOSE",
            "IMAGE_TAG",
            "IMAGE_REPO",
            "SKIP_DEPLOY_GATE",
        )
    }
    base.update(env or {})
    proc = subprocess.run(
        ["bash", str(SCRIPTS / name), *args],
        env=base,
        cwd=cwd or REPO_ROOT,
        text=True,
        capture_output=True,
        timeout=timeout,
        input=stdin if stdin is not None else "",
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def fake_ops() -> Iterator[FakeOps]:
    server = FakeOps().start()
    yield server
    server.stop()


@pytest.fixture
def fake_integrations() -> Iterator[FakeIntegrations]:
    server = FakeIntegrations(api_key="key-" + uuid.uuid4().hex).start()
    yield server
    server.stop()


# --- PostgreSQL --------------------------------------------------------------------------------


def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


class _OwnCluster:
    """A throwaway PostgreSQL cluster in a temporary folder (as user postgres when we are root)."""

    def __init__(self) -> None:
        self.initdb = _pg_binary("initdb")
        self.pg_ctl = _pg_binary("pg_ctl")
        if not (self.initdb and self.pg_ctl and shutil.which("psql")):
            pytest.fail("PostgreSQL server binaries (initdb, pg_ctl, psql) are not installed")
        self.base = Path(tempfile.mkdtemp(prefix="scripts-pg-"))
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.base, "postgres")
        self.port = free_port()

    def _run(self, *cmd: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        subprocess.run([*prefix, *cmd], check=True, capture_output=True, timeout=60)

    def start(self) -> str:
        data = self.base / "data"
        self._run(self.initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            self.pg_ctl, "-D", str(data), "-o", options, "-l", str(self.base / "log"), "-w", "start"
        )
        # The superuser: tests make a role of their own per database (see database_url).
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            self._run(self.pg_ctl, "-D", str(self.base / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A DATABASE_URL of a role that may create databases on a throwaway server.

    Uses the team's .ci/services.sh when it exists, else starts a cluster of its own.
    """
    services = REPO_ROOT / ".ci" / "services.sh"
    if services.exists():
        folder = Path(tempfile.mkdtemp(prefix="scripts-services-"))
        subprocess.run(
            ["bash", str(services), "start", str(folder)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        try:
            url = subprocess.run(
                [
                    "bash",
                    "-c",
                    f'source {shlex.quote(str(folder / "env"))}; printf %s "$DATABASE_URL"',
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            yield url
        finally:
            subprocess.run(
                ["bash", str(services), "stop", str(folder)], capture_output=True, timeout=120
            )
            shutil.rmtree(folder, ignore_errors=True)
        return
    cluster = _OwnCluster()
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def psql(url: str, sql: str) -> str:
    """Run SQL through psql and return its unaligned output."""
    return subprocess.run(
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout


#: The test role's password: URL-quoted in DATABASE_URL; no script output may ever show it.
ROLE_PASSWORD = "p@ss:w/rd secret"


def with_credentials(url: str, user: str, password: str, database: str) -> str:
    parts = urlsplit(url)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc, path="/" + database))


@pytest.fixture
def database_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty database owned by a fresh role (LOGIN CREATEDB, not superuser, password
    ROLE_PASSWORD) on the throwaway server; both are dropped afterwards."""
    name = f"scripts_{uuid.uuid4().hex[:10]}"
    escaped = ROLE_PASSWORD.replace("'", "''")
    psql(pg_server, f"CREATE ROLE {name} LOGIN CREATEDB PASSWORD '{escaped}'")
    psql(pg_server, f'CREATE DATABASE "{name}" OWNER {name}')
    yield with_credentials(pg_server, name, ROLE_PASSWORD, name)
    for _ in range(3):
        try:
            psql(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            psql(pg_server, f"DROP ROLE IF EXISTS {name}")
            break
        except subprocess.CalledProcessError:
            time.sleep(0.5)
