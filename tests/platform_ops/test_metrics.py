"""/metrics: the token, every CONTRACT name, scrape-time gauges, and multiprocess gunicorn."""

from __future__ import annotations

import math
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.parser import text_string_to_metric_families

from outbox.selectors import GAUGES_CACHE_KEY
from tests.scripts.contract import METRICS, PLATFORM_METRICS

#: CONTRACT's metric names, kept once for every test (tests/scripts/contract.py).
CONTRACT_METRICS = tuple(sorted(METRICS))


def exposed_names(text: str) -> set[str]:
    """Names as a scraper sees them: counters with ``_total``, others as declared."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
    return names


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


@pytest.mark.parametrize("name", CONTRACT_METRICS)
def test_every_contract_metric_is_exposed(client, db, name):
    client.get("/live")  # so that the HTTP metrics have a sample too
    text = client.get("/metrics").content.decode()
    assert name in exposed_names(text)


def test_token_required_when_set(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing["Content-Type"] == "application/problem+json"
    assert "X-Metrics-Token" in missing.json()["detail"]
    assert client.get("/metrics", headers={"X-Metrics-Token": "wrong"}).status_code == 401
    ok = client.get("/metrics", headers={"X-Metrics-Token": "scrape-secret"})
    assert ok.status_code == 200 and ok["Content-Type"].startswith("text/plain")
    assert client.post("/metrics", headers={"X-Metrics-Token": "scrape-secret"}).status_code == 405


def test_token_not_needed_when_unset(client, settings):
    settings.METRICS_TOKEN = None
    assert client.get("/metrics").status_code == 200


def test_outbox_gauges_come_from_the_relays_cached_figures(client):
    text = client.get("/metrics").content.decode()
    assert value(text, "loyalty_outbox_pending", channel="webhook") is None  # unknown: no sample
    assert "loyalty_outbox_pending" in exposed_names(text)
    cache.set(
        GAUGES_CACHE_KEY,
        {
            "pending": {"webhook": 7, "telegram": 2},
            "leased": 3,
            "dead": 5,
            "due": 4,
            "computed_at": time.time() - 10,
        },
    )
    text = client.get("/metrics").content.decode()
    assert value(text, "loyalty_outbox_pending", channel="webhook") == 7
    assert value(text, "loyalty_outbox_pending", channel="telegram") == 2
    assert value(text, "loyalty_outbox_dead_total") == 5
    assert value(text, "outbound_queue_depth") == 4 + 3
    assert 9 <= value(text, "loyalty_outbox_gauges_age_seconds") < 60


def test_backup_timestamp_read_from_file(client, settings, tmp_path):
    settings.BACKUP_DIR = str(tmp_path)
    text = client.get("/metrics").content.decode()
    assert value(text, "last_success_backup_timestamp_seconds") == 0
    (tmp_path / "last_success_backup_timestamp").write_text("1763780000\n")
    text = client.get("/metrics").content.decode()
    assert value(text, "last_success_backup_timestamp_seconds") == 1763780000
    (tmp_path / "last_success_backup_timestamp").write_text("garbage")
    text = client.get("/metrics").content.decode()
    assert math.isnan(value(text, "last_success_backup_timestamp_seconds"))


def test_portal_counters_are_zero_until_used(client):
    text = client.get("/metrics").content.decode()
    for name in ("portal_auth_login_total", "portal_auth_refresh_total"):
        assert value(text, name, result="ok") is not None
        assert value(text, name, result="failed") is not None


def test_db_queries_are_timed(client, db):
    before = value(client.get("/metrics").content.decode(), "db_query_duration_seconds_count")
    with connection.cursor() as cursor:
        for _ in range(3):
            cursor.execute("SELECT 1")
    after = value(client.get("/metrics").content.decode(), "db_query_duration_seconds_count")
    assert after >= before + 3


def _probe_count_per_process(directory: Path, scratch: Path) -> dict[str, float]:
    """Unmatched-route requests counted by each process, from its own file alone."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        alone = scratch / path.stem
        alone.mkdir(parents=True)
        shutil.copy(path, alone / path.name)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(alone))
        for family in registry.collect():
            for sample in family.samples:
                if sample.name == "http_requests_total" and sample.labels["route"] == "unmatched":
                    counts[path.stem] = counts.get(path.stem, 0) + sample.value
    return counts


@pytest.mark.slow
def test_multiprocess_gunicorn_counts_add_up(ops_services, api_server, tmp_path):
    server = api_server(
        workers=2,
        METRICS_TOKEN="scrape-secret",
        DATABASE_URL=ops_services.database_url,
        REDIS_URL=ops_services.redis_url,
    )
    token = {"X-Metrics-Token": "scrape-secret"}
    assert server.get("/metrics").status_code == 401
    assert server.get("/metrics", headers={"X-Metrics-Token": "nope"}).status_code == 401

    # A path nothing else requests (the start-up probes hit /live): route "unmatched", 404.
    def probe_total() -> float:
        text = server.get("/metrics", headers=token).text
        return (
            value(text, "http_requests_total", route="unmatched", method="GET", status="404") or 0
        )

    assert probe_total() == 0

    def burst(n: int) -> None:
        with ThreadPoolExecutor(16) as pool:
            codes = list(
                pool.map(
                    lambda _: server.request("GET", "/probe", headers={"Connection": "close"}),
                    range(n),
                )
            )
        assert [r.status_code for r in codes] == [404] * n

    # The kernel decides which worker accepts a connection: send bursts until both workers
    # served some (bounded), so that the sums below really add up across processes.
    sent = 0
    for attempt in range(20):
        burst(40)
        sent += 40
        per_process = _probe_count_per_process(server.multiproc_dir, tmp_path / str(attempt))
        if len([n for n in per_process.values() if n > 0]) >= 2:
            break
    assert len([n for n in per_process.values() if n > 0]) >= 2, per_process
    assert sum(per_process.values()) == sent
    # Whichever worker answers the scrape, it reports every worker's requests.
    assert {probe_total() for _ in range(8)} == {sent}

    cache.set(
        GAUGES_CACHE_KEY,
        {
            "pending": {"webhook": 1, "telegram": 0},
            "leased": 0,
            "dead": 2,
            "due": 1,
            "computed_at": time.time(),
        },
    )
    text = server.get("/metrics", headers=token).text
    assert value(text, "loyalty_outbox_dead_total") == 2
    missing = set(CONTRACT_METRICS) - exposed_names(text)
    assert not missing, f"not exposed under multiprocess gunicorn: {sorted(missing)}"


def test_token_accepted_as_a_bearer_as_prometheus_sends_it(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic scrape-secret").status_code == 401


def test_platform_figures_beyond_the_contract_are_declared(client):
    missing = PLATFORM_METRICS - exposed_names(client.get("/metrics").content.decode())
    assert not missing, f"used by alert rules but not on /metrics: {sorted(missing)}"


def test_process_memory_is_served_as_bot_memory_usage_bytes(client):
    text = client.get("/metrics").content.decode()
    rss = value(text, "bot_memory_usage_bytes", process="api")
    assert rss is not None and rss > 10 * 1024 * 1024  # a Django process is well above 10 MiB
