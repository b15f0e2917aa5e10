"""Per-key rate limit in Redis: 429 with Retry-After, keys counted apart, degrading open."""

from __future__ import annotations

import logging
import uuid

import pytest
from prometheus_client import REGISTRY

from integrations.models import ApiKey
from integrations.throttling import sliding_window_hit
from tests.integrations.api_client import assert_problem, get

pytestmark = pytest.mark.django_db


def degraded_total() -> float:
    return REGISTRY.get_sample_value("api_throttle_degraded_total") or 0.0


def test_over_the_rate_is_429_with_retry_after(api, other_api, customer, settings):
    settings.API_THROTTLE_RATE = "3/m"
    path = f"customers/{customer.id}"
    assert [get(api, path).status_code for _ in range(3)] == [200, 200, 200]
    response = get(api, path)
    problem = assert_problem(response, 429, "rate-limited")
    assert "3/m" in problem["detail"]
    assert 1 <= int(response["Retry-After"]) <= 120
    # Another key (here another merchant's) has its own allowance.
    assert get(other_api, path).status_code == 404


def test_counts_live_in_redis_and_expire(api, merchant, customer, settings):
    if not settings.REDIS_URL:
        pytest.fail("needs REDIS_URL (make test provides it)")
    from django_redis import get_redis_connection

    get(api, f"customers/{customer.id}")
    key = ApiKey.objects.get(merchant=merchant)
    redis = get_redis_connection("default")
    counters = redis.keys(f"*throttle:key:{key.id}:*")
    assert len(counters) == 1
    assert redis.get(counters[0]) == b"1"
    assert 0 < redis.ttl(counters[0]) <= 3  # two 1 s windows and a second of slack


@pytest.mark.parametrize("store", ["shared", "local memory"])
def test_sliding_window_weighs_the_previous_window(store, settings):
    if store == "local memory":  # the embedded run's cache (no REDIS_URL)
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    bucket = f"throttle:test:{uuid.uuid4().hex}"
    # 10 requests at the end of window 99 (t = 99.9 s) ...
    assert all(sliding_window_hit(bucket, limit=10, window=1, now=99.9) is None for _ in range(10))
    # ... still count 80 % at t = 100.2: 8 + 2 = 10 allowed, the third is over.
    assert sliding_window_hit(bucket, limit=10, window=1, now=100.2) is None
    assert sliding_window_hit(bucket, limit=10, window=1, now=100.2) is None
    wait = sliding_window_hit(bucket, limit=10, window=1, now=100.2)
    assert wait is not None and 0 < wait <= 1
    # A whole window later the old requests no longer count.
    assert sliding_window_hit(bucket, limit=10, window=1, now=101.5) is None


def test_unreachable_store_degrades_open_with_a_warning_and_a_metric(
    api, customer, settings, caplog
):
    settings.API_THROTTLE_RATE = "1/h"
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    before = degraded_total()
    with caplog.at_level(logging.WARNING, logger="integrations.throttling"):
        statuses = [get(api, f"customers/{customer.id}").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert degraded_total() == before + 3
    warnings = [r for r in caplog.records if "rate-limit store unreachable" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not per request
