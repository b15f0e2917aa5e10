"""Prometheus metrics of delivery (CONTRACT names). Multiprocess-safe via prometheus_client."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
