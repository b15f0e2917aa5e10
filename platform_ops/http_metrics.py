"""HTTP metrics named by CONTRACT: request counts, latency and slow requests per route template.

Routes are labelled by the URL pattern that matched (``/api/integrations/v1/customers/<uuid:...>``),
never the raw path, so that ids do not explode the label set; a request no pattern matched is
``unmatched``. Under gunicorn the metrics live in ``PROMETHEUS_MULTIPROC_DIR`` (set by
``config/gunicorn.py`` before workers import this module), so every worker's counts add up.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import Counter, Histogram

from core.request_context import route_of

#: Methods labelled as themselves; anything else is ``other`` (bounded label set).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

http_requests_total = Counter(
    "http_requests_total",
    "HTTP requests by route template, method and status code.",
    ["route", "method", "status"],
)
http_request_duration_seconds = Histogram(
    "http_request_duration_seconds",
    "Time from the first middleware to the response, by route template and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
http_slow_requests_total = Counter(
    "http_slow_requests_total",
    "HTTP requests slower than ALERT_HTTP_SLOW_THRESHOLD_MS, by route template and method.",
    ["route", "method"],
)


class HttpMetricsMiddleware:
    """Counts and times every request; must be first in MIDDLEWARE to see the whole stack."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        route = route_of(request)
        method = request.method if request.method in _METHODS else "other"
        http_requests_total.labels(
            route=route, method=method, status=str(response.status_code)
        ).inc()
        http_request_duration_seconds.labels(route=route, method=method).observe(elapsed)
        if elapsed * 1000 >= settings.ALERT_HTTP_SLOW_THRESHOLD_MS:
            http_slow_requests_total.labels(route=route, method=method).inc()
        return response
