"""The runbook figures where the runbooks read them, with real processes: a gunicorn api, a
Dramatiq worker and a relay sharing ``METRICS_SHARED_DIR`` (as the compose file sets it); the
worker delivers to a real receiver and ``curl <api>/metrics`` shows what the worker counted.
The relay's heartbeat reaches /health, /ready and /metrics of that api, and ages once the relay
is killed."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from outbox.models import Delivery, DeliveryStatus
from outbox.services import webhook_endpoint_create
from tests.factories import make_customer, make_merchant
from tests.fixtures.processes import api_env, wait_until

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "live-metrics-token"

pytestmark = pytest.mark.slow


def sample(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


@pytest.fixture
def shared_dir(tmp_path: Path) -> Path:
    return tmp_path / "metrics-shared"


@pytest.fixture
def api(transactional_db, shared_dir: Path, gunicorn_server) -> str:
    env = api_env(METRICS_TOKEN=TOKEN, METRICS_SHARED_DIR=str(shared_dir), LOG_LEVEL="warning")
    return gunicorn_server(env, workers=2).url


def scrape(api: str) -> str:
    response = httpx.get(f"{api}/metrics", headers={"X-Metrics-Token": TOKEN}, timeout=10)
    assert response.status_code == 200
    return response.text


def test_worker_and_relay_figures_are_read_on_the_api(stack, receiver, api, shared_dir):
    setup = make_merchant("Shop")
    webhook_endpoint_create(merchant=setup.merchant, url=receiver.url)
    # The first answer is a 429 (no Retry-After): counted by the worker, retried, delivered.
    receiver.respond = lambda req, n: (429, {}, b"slow down", 0) if n == 1 else (200, {}, b"", 0)
    before = scrape(api)
    assert not sample(before, "outbound_429_total", channel="webhook")

    stack.worker(METRICS_SHARED_DIR=str(shared_dir))
    stack.relay(METRICS_SHARED_DIR=str(shared_dir))
    make_customer(setup.merchant)  # customer.created -> one webhook delivery
    receiver.wait_for(2, timeout=60)  # a Dramatiq worker boots in ~15 s on a busy machine
    wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 1)

    # Where runbook 000 reads them: curl <api>/metrics | grep outbound_429_total
    def figures() -> str | None:
        text = scrape(api)
        return text if sample(text, "outbound_send_success_total", channel="webhook") else None

    text = wait_until(figures, timeout=10)
    assert sample(text, "outbound_429_total", channel="webhook") == 1
    assert sample(text, "outbound_send_failed_total", channel="webhook") == 1
    assert sample(text, "outbound_send_success_total", channel="webhook") == 1
    assert (
        sample(
            text,
            "external_requests_total",
            provider="merchant_webhook",
            result="rate_limited",
            status="429",
        )
        == 1
    )
    # One subdirectory per top-level process: api, worker, relay.
    assert len([p for p in shared_dir.iterdir() if p.is_dir()]) == 3

    # Runbook 004's memory figure, recorded by the relay in its own files, merged here.
    relay_rss = sample(text, "bot_memory_usage_bytes", process="relay")
    assert relay_rss is not None and relay_rss > 10 * 1024 * 1024
    # The relay's heartbeat: its gauge (from the relay's files) and the cached beat.
    beat = sample(text, "loyalty_relay_heartbeat_timestamp_seconds")
    assert beat is not None and abs(time.time() - beat) < 30
    health = httpx.get(f"{api}/health", timeout=5).json()
    assert health["relay"]["status"] == "ok", health
    ready = httpx.get(f"{api}/ready", timeout=5).json()
    assert ready["relay"]["status"] == "ok" and "warnings" not in ready, ready

    # A relay that dies stops beating: the figures age instead of vanishing.
    stack.stop("relay", sig=signal.SIGKILL)
    dead = scrape(api)
    first = sample(dead, "loyalty_relay_heartbeat_age_seconds")
    last_beat = sample(dead, "loyalty_relay_heartbeat_timestamp_seconds")
    time.sleep(2.5)
    later_text = scrape(api)
    later = sample(later_text, "loyalty_relay_heartbeat_age_seconds")
    assert first is not None and later is not None and later >= first + 2
    assert sample(later_text, "loyalty_relay_heartbeat_timestamp_seconds") == last_beat
    assert httpx.get(f"{api}/health", timeout=5).json()["relay"]["age_seconds"] >= later
