"""Per-minute counts of 5xx and slow responses in the shared cache, for the alerts job.

The alerts job runs in the relay, another process (often another host) than the gunicorn workers
that see the requests, so the counts live in the shared cache (Redis in production): one key per
kind and minute, bumped with an atomic INCR. Only 5xx and slow responses touch the cache;
ordinary requests cost nothing. When the cache is away the counts are lost (and the alerts job
cannot see them either); the request is never slowed by more than one failed attempt per
backoff period.

``ALERTS_5XX_SAMPLE_RATE`` of the 5xx responses are logged with their context (method, route,
status, request id, user agent, duration): no bodies, no query strings, no headers that carry
credentials, phone-like digit runs masked.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from core.cache import cache_breaker, cache_get, cache_set
from core.redaction import log_data_redact
from core.request_context import OPERATIONS_PATHS, current_request_id, route_of

logger = logging.getLogger(__name__)

HTTP_5XX = "http_5xx"
HTTP_SLOW = "http_slow"
#: Counters outlive their minute long enough for a late alerts check.
COUNTER_TTL_SECONDS = 600
#: The newest 5xx sample, shown in the alert message.
LAST_SAMPLE_KEY = "platform_ops:alerts:last_5xx_sample"
_PHONE_LIKE = re.compile(r"\+?\d[\d ()-]{7,}\d")


def minute_of(timestamp: float) -> int:
    """Minutes since the epoch: the counters' bucket."""
    return int(timestamp // 60)


def _key(kind: str, minute: int) -> str:
    return f"platform_ops:alerts:{kind}:{minute}"


def counter_bump(kind: str, *, at: float | None = None) -> None:
    """Add one to this minute's counter of ``kind``; never raises."""
    if not cache_breaker.available():
        return
    key = _key(kind, minute_of(time.time() if at is None else at))
    try:
        cache.add(key, 0, timeout=COUNTER_TTL_SECONDS)
        cache.incr(key)
    except ValueError:  # expired between add and incr: start over once
        try:
            cache.add(key, 1, timeout=COUNTER_TTL_SECONDS)
        except Exception as exc:
            cache_breaker.failed(exc)
    except Exception as exc:  # Redis away: the count is lost, the request goes on
        cache_breaker.failed(exc)


def counter_read(kind: str, minute: int) -> int:
    value = cache_get(_key(kind, minute))
    return int(value or 0)


def last_sample() -> dict[str, Any] | None:
    sample = cache_get(LAST_SAMPLE_KEY)
    return sample if isinstance(sample, dict) else None


def _sample_5xx(request: HttpRequest, response: HttpResponse, duration_ms: float) -> None:
    user_agent = _PHONE_LIKE.sub("[masked]", request.headers.get("User-Agent", ""))[:200]
    sample = {
        "method": request.method,
        "route": route_of(request),
        "status": response.status_code,
        "request_id": current_request_id() or "",
        "user_agent": user_agent,
        "duration_ms": round(duration_ms, 1),
        "at": time.time(),
    }
    sample = log_data_redact(sample)  # the alert message shows it: no credentials, no phones
    logger.warning("http 5xx sample", extra={"sample": sample})
    cache_set(LAST_SAMPLE_KEY, sample, COUNTER_TTL_SECONDS)


class AlertCountersMiddleware:
    """Counts 5xx and slow responses per minute; samples 5xx. Place it after the mode
    middleware: planned refusals (maintenance, read-only, deploy) are not incidents. The
    operations endpoints are not counted either: their 503 is a report on a dependency (already
    visible to whoever probes them), and they must answer fast even when the cache hangs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info in OPERATIONS_PATHS:
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = (time.perf_counter() - started) * 1000
        if response.status_code >= 500:
            counter_bump(HTTP_5XX)
            if random.random() < settings.ALERTS_5XX_SAMPLE_RATE:
                _sample_5xx(request, response, duration_ms)
        if duration_ms >= settings.ALERT_HTTP_SLOW_THRESHOLD_MS:
            counter_bump(HTTP_SLOW)
        return response
