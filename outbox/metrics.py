"""Prometheus metrics of delivery (CONTRACT names). Multiprocess-safe via prometheus_client."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from outbox.models import Channel
from outbox.selectors import outbox_gauges_cached

EXTERNAL_REQUESTS = Counter(
    "external_requests_total",
    "Calls to outside providers by result and HTTP status.",
    ["provider", "result", "status"],
)
OUTBOUND_SEND_SUCCESS = Counter(
    "outbound_send_success_total", "Deliveries that reached their target.", ["channel"]
)
OUTBOUND_SEND_FAILED = Counter(
    "outbound_send_failed_total", "Delivery tries that failed.", ["channel"]
)
OUTBOUND_429 = Counter("outbound_429_total", "429 answers from targets.", ["channel"])
COMMIT_TO_DELIVERED = Histogram(
    "outbox_commit_to_delivered_seconds",
    "Time from the event's commit to its successful delivery.",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)


def external_result(
    provider: str, *, status_code: int | None, ok: bool, error: bool = False
) -> None:
    if ok:
        result = "ok"
    elif status_code == 429:
        result = "rate_limited"
    elif status_code is not None and not error:
        result = "http_error"
    else:
        result = "error"
    EXTERNAL_REQUESTS.labels(provider, result, str(status_code) if status_code else "none").inc()


class OutboxGaugesCollector(Collector):
    """Outbox gauges from the relay's cached figures (cheap: one cache read per scrape)."""

    def describe(self) -> Iterable[Metric]:
        return self._families(None)

    def collect(self) -> Iterable[Metric]:
        return self._families(outbox_gauges_cached())

    def _families(self, gauges: dict[str, Any] | None) -> list[Metric]:
        pending = GaugeMetricFamily(
            "loyalty_outbox_pending",
            "Deliveries waiting to be sent, by channel.",
            labels=["channel"],
        )
        dead = GaugeMetricFamily(
            "loyalty_outbox_dead_total", "Deliveries given up on (dead), replayable from the admin."
        )
        depth = GaugeMetricFamily(
            "outbound_queue_depth",
            "Deliveries due now or handed to the workers and not finished (due + leased).",
        )
        age = GaugeMetricFamily(
            "loyalty_outbox_gauges_age_seconds", "Age of the outbox gauges computed by the relay."
        )
        if gauges is not None:
            by_channel = gauges.get("pending", {})
            for channel in Channel.values:
                pending.add_metric([channel], float(by_channel.get(channel, 0)))
            dead.add_metric([], float(gauges.get("dead", 0)))
            depth.add_metric([], float(gauges.get("due", 0)) + float(gauges.get("leased", 0)))
            age.add_metric([], max(time.time() - float(gauges.get("computed_at", 0)), 0.0))
        return [pending, dead, depth, age]
