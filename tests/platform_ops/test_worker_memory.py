"""Runbook 004's ``bot_memory_usage_bytes`` from a real Dramatiq worker process: written into
the shared metrics directory by the worker (platform_ops.worker_metrics), read on a real
gunicorn api's /metrics, and gone once the worker stopped."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.processes import wait_until
from tests.test_metrics_path_live import api, scrape, shared_dir  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow


def memory_by_pid(text: str, kind: str) -> dict[str, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "bot_memory_usage_bytes" and s.labels.get("process") == kind:
                out[s.labels["pid"]] = s.value
    return out


def worker_samples(text: str) -> dict[str, float]:
    return memory_by_pid(text, "worker")


def test_a_worker_process_reports_its_memory_on_the_api(stack, api, shared_dir):  # noqa: F811
    assert worker_samples(scrape(api)) == {}
    worker = stack.worker(METRICS_SHARED_DIR=str(shared_dir))

    found = wait_until(lambda: worker_samples(scrape(api)), timeout=30)
    assert len(found) == 1, found
    ((pid, rss),) = found.items()
    # The figure is the Dramatiq worker process's own (a child of rundramatiq), not the api's.
    assert int(pid) != worker.pid
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        assert b"dramatiq" in cmdline.read()
    assert rss > 10 * 1024 * 1024  # a Django process is well above 10 MiB
    api_pids = memory_by_pid(scrape(api), "api")
    assert api_pids and pid not in api_pids

    stack.stop("worker")
    assert worker_samples(scrape(api)) == {}, stack.log("worker")
