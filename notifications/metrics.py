"""Prometheus metrics of the customer bot (CONTRACT names), multiprocess-safe via prometheus_client.

``inbound_queue_depth`` is a gauge the relay's inbound sweep computes every few seconds and keeps
in the shared cache (like the outbox gauges), served at scrape time by
:class:`InboundGaugesCollector`: a scrape never counts tables, and the relay's process (another
container in production) need not share the api's multiprocess directory. When the figure is
unknown (relay down, cache away) the family has no sample: a gap, not a reassuring zero.

The outbox engine already counts, for telegram deliveries, ``external_requests_total``,
``outbound_send_success_total`` / ``outbound_send_failed_total`` and ``outbound_429_total``; the
bot's replies (not outbox deliveries) are counted here in ``external_requests_total`` and
``outbound_429_total`` as well, so every Bot API call is counted exactly once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from django.core.cache import cache
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

#: Cache key of the figures computed by the relay's inbound sweep.
INBOUND_GAUGES_CACHE_KEY = "notifications:gauges"
#: Figures older than this are not served (the relay stopped computing them).
INBOUND_GAUGES_MAX_AGE_SECONDS = 300

TELEGRAM_RATE_LIMIT_HITS = Counter(
    "telegram_rate_limit_hits_total",
    "429 Too Many Requests answers from the Telegram Bot API (deliveries and replies).",
)
BOT_ERRORS = Counter(
    "bot_errors_total",
    "Customer bot failures by kind (webhook_forbidden, enqueue_failed, handler_error, "
    "gave_up, reply_failed, reply_blocked, limiter_unavailable, not_configured).",
    ["kind"],
)
WEBHOOK_PROCESSING_LAG = Histogram(
    "webhook_processing_lag_seconds",
    "Time from receiving a Telegram update on the webhook to having processed it.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)
TELEGRAM_LIMITER_WAIT = Histogram(
    "telegram_limiter_wait_seconds",
    "Time a Telegram send waited for its rate-limiter slot.",
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10),
)
TELEGRAM_SEND_DEFERRED = Counter(
    "telegram_send_deferred_total",
    "Telegram sends handed back unsent because no rate-limiter slot came in time.",
)


def inbound_gauges_store(*, depth: int) -> None:
    """Keep the relay's figures for the api's scrapes (best effort: Redis may be away)."""
    try:
        cache.set(
            INBOUND_GAUGES_CACHE_KEY,
            {"inbound_queue_depth": depth, "computed_at": time.time()},
            timeout=INBOUND_GAUGES_MAX_AGE_SECONDS,
        )
    except Exception as exc:  # the gauge goes stale; processing goes on
        logger.warning("could not store inbound gauges", extra={"error": exc.__class__.__name__})


class InboundGaugesCollector(Collector):
    """``inbound_queue_depth`` from the relay's cached figure (one cache read per scrape)."""

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "inbound_queue_depth", "Telegram updates received on the webhook and not yet processed."
        )
        try:
            gauges = cache.get(INBOUND_GAUGES_CACHE_KEY)
        except Exception:
            gauges = None
        if gauges is not None:
            family.add_metric([], float(gauges.get("inbound_queue_depth", 0)))
        return [family]
