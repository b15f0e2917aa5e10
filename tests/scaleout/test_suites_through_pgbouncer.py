"""The integration suite and the delivery suite (``tests/integrations``, ``tests/outbox``) run once
through a real PgBouncer in transaction-pooling mode: a child pytest with the
``tests.fixtures.pgbouncer`` plugin, on its own test database and Redis database so that it
shares nothing with this run. It must pass, and PgBouncer must have served its transactions."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SUITES = ["tests/integrations", "tests/outbox"]


def _other_database(name: str, url: str) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{name}"))


def _other_redis_db(url: str) -> str:
    current = urlparse(url).path.strip("/") or "0"
    return urlunparse(urlparse(url)._replace(path=f"/{(int(current) + 1) % 16}"))


@pytest.mark.timeout(1800)
def test_integration_and_delivery_suites_pass_through_pgbouncer():
    env = {
        **os.environ,
        "DATABASE_URL": _other_database("loyalty_pgbouncer", os.environ["DATABASE_URL"]),
        "REDIS_URL": _other_redis_db(os.environ["REDIS_URL"]),
    }
    env.pop("RELAY_DATABASE_URL", None)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.fixtures.pgbouncer",
            *SUITES,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1700,
    )
    tail = "\n".join(run.stdout.splitlines()[-40:]) + run.stderr[-2000:]
    assert run.returncode == 0, tail
    served = re.search(r"through pgbouncer: (\d+) transactions, (\d+) queries", run.stdout)
    assert served, tail
    passed = re.search(r"(\d+) passed", run.stdout)
    assert passed, tail
    # Every test's database work went through PgBouncer: at least one transaction per test.
    assert int(served.group(1)) >= int(passed.group(1)), served.group(0)
    print(served.group(0), "for", passed.group(0))
