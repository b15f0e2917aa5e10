"""Per-key rate limit of the integration API, counted in the shared cache (Redis in production).

Algorithm: sliding-window counter. Each key has one counter per fixed window (``API_THROTTLE_RATE``
``50/s`` → 1 s windows); a request is allowed while ``previous window's count x the share of it
still inside the sliding window + this window's count`` stays within the limit. It smooths the
double burst a fixed window allows at its edges, costs one Redis round trip (INCR, EXPIRE and GET
in a pipeline), and keeps two small keys per API key that expire on their own. Counts are shared
by every gunicorn worker and host.

When the store fails, the limit degrades open: requests pass, a warning is logged once per outage
and ``api_throttle_degraded_total`` counts each request let through unchecked. After a failure
the store is left alone for :data:`STORE_RETRY_SECONDS`, so a hanging Redis costs one timeout per
process and period, not one per request.
"""

from __future__ import annotations

import logging
import math
import time
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import cache
from prometheus_client import Counter
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.breaker import Breaker
from integrations.models import ApiKey

logger = logging.getLogger(__name__)

#: Seconds to skip the store after it failed, before trying it again.
STORE_RETRY_SECONDS = 5.0

api_throttle_degraded_total = Counter(
    "api_throttle_degraded_total",
    "Integration API requests let through without a rate-limit check because the store failed.",
)

_WINDOWS = {"s": 1, "m": 60, "h": 3600}


@lru_cache(maxsize=8)
def rate_parse(rate: str) -> tuple[int, int]:
    """``"50/s"`` → (50 requests, 1 s window); settings validated the format at start-up."""
    count, _, unit = rate.partition("/")
    return int(count), _WINDOWS[unit]


store_breaker = Breaker(
    "rate-limit store",
    backoff_seconds=STORE_RETRY_SECONDS,
    log=logger,
    consequence="integration API requests pass unthrottled",
)


def _window_counts(current: str, previous: str, *, ttl: int) -> tuple[int, int]:
    """Count one hit in ``current``; answer it and ``previous``'s count."""
    redis_client = getattr(getattr(cache, "client", None), "get_client", None)
    if redis_client is not None:
        # django-redis: one round trip for the three commands.
        pipe = redis_client(write=True).pipeline(transaction=False)
        pipe.incr(cache.make_key(current))
        pipe.expire(cache.make_key(current), ttl)
        pipe.get(cache.make_key(previous))
        count, _, previous_count = pipe.execute()
        return int(count), int(previous_count or 0)
    # Any other cache (the embedded run's local memory).
    cache.add(current, 0, timeout=ttl)
    try:
        count = cache.incr(current)
    except ValueError:  # evicted between add and incr
        cache.set(current, 1, timeout=ttl)
        count = 1
    return count, int(cache.get(previous) or 0)


def sliding_window_hit(bucket: str, *, limit: int, window: int, now: float) -> float | None:
    """Count one request in ``bucket``: None when allowed, else the seconds to wait."""
    index, elapsed = divmod(now, window)
    # Two windows of life: the current window's count is still needed as "previous" in the next.
    count, previous_count = _window_counts(
        f"{bucket}:{int(index)}", f"{bucket}:{int(index) - 1}", ttl=window * 2 + 1
    )
    estimate = previous_count * (window - elapsed) / window + count
    if estimate <= limit:
        return None
    if count > limit:
        # This window alone is over: wait for it to end and for enough of it to slide out.
        return (window - elapsed) + window * (1 - limit / count)
    # The previous window's tail is what is over: wait until enough of it slides out.
    return max((window - elapsed) - (limit - count) * window / previous_count, 0.001)


class ApiKeyThrottle(BaseThrottle):
    """``API_THROTTLE_RATE`` requests per API key; 429 with ``Retry-After`` beyond it."""

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return True
        now = time.time()
        if not store_breaker.available():
            api_throttle_degraded_total.inc()
            return True
        limit, window = rate_parse(settings.API_THROTTLE_RATE)
        try:
            self._wait = sliding_window_hit(
                f"throttle:key:{key.id}", limit=limit, window=window, now=now
            )
        except Exception as exc:  # any store failure: degrade open rather than refuse registers
            store_breaker.failed(exc)
            api_throttle_degraded_total.inc()
            return True
        store_breaker.succeeded()
        return self._wait is None

    def wait(self) -> float | None:
        return None if self._wait is None else max(math.ceil(self._wait), 1)
