"""The operators' smoke scripts against the real platform: gunicorn on loopback, PostgreSQL,
Redis. Passing runs, and failing ones (wrong token, wrong key, a threshold exceeded)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from integrations.services import api_key_issue
from loyalty.models import Customer
from loyalty.services import customer_code_issue
from tests.factories import make_customer, make_merchant
from tests.fixtures.processes import api_env

ROOT = Path(__file__).resolve().parents[1]
METRICS_TOKEN = "smoke-metrics-token"

pytestmark = pytest.mark.slow


@pytest.fixture
def live_api(transactional_db, tmp_path, gunicorn_server) -> str:
    env = api_env(METRICS_TOKEN=METRICS_TOKEN, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"))
    return gunicorn_server(env, workers=2, wait_path="/ready").url


def run(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [f"scripts/{script}"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_smoke_check_passes_and_refuses_a_wrong_token(live_api):
    ok = run("smoke-check.sh", BASE_URL=live_api, METRICS_TOKEN=METRICS_TOKEN)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert METRICS_TOKEN not in ok.stdout + ok.stderr
    bad = run("smoke-check.sh", BASE_URL=live_api, METRICS_TOKEN="wrong")
    assert bad.returncode != 0
    assert "wrong" not in bad.stdout + bad.stderr


def test_smoke_integrations_with_and_without_mutations(live_api):
    setup = make_merchant("Smoke")
    customer = make_customer(setup.merchant, points=100)
    key = api_key_issue(merchant=setup.merchant).plaintext
    base = {
        "BASE_URL": live_api,
        "INTEGRATION_API_KEY": key,
        "SMOKE_OUTLET_ID": str(setup.outlet.id),
    }

    read_only = run(
        "smoke-integrations.sh", SMOKE_USER_TOKEN=customer_code_issue(customer=customer), **base
    )
    assert read_only.returncode == 0, read_only.stdout + read_only.stderr
    assert key not in read_only.stdout + read_only.stderr

    mutating = run(
        "smoke-integrations.sh",
        SMOKE_CUSTOMER_ID=str(customer.id),
        SMOKE_ALLOW_MUTATIONS="1",
        **base,
    )
    assert mutating.returncode == 0, mutating.stdout + mutating.stderr
    customer = Customer.objects.get(id=customer.id)
    assert customer.balance_points == 100  # the purchase and its refund cancel out
    assert customer.purchases.count() == 1

    wrong_key = run(
        "smoke-integrations.sh",
        SMOKE_CUSTOMER_ID=str(customer.id),
        **{**base, "INTEGRATION_API_KEY": "lk_nope_nope"},
    )
    assert wrong_key.returncode != 0

    too_slow = run(
        "smoke-integrations.sh",
        SMOKE_CUSTOMER_ID=str(customer.id),
        SMOKE_MAX_MS_CALCULATE="1",
        **base,
    )
    assert too_slow.returncode != 0
    assert "calculate" in too_slow.stdout + too_slow.stderr
