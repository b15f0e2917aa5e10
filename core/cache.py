"""The shared cache for figures that may be lost: reads answer None and writes give up instead
of raising, and a cache that just failed is skipped for a while (:data:`cache_breaker`).

For hot paths that must degrade rather than fail (site modes on every request, alert counters,
cached gauges). Writes that must not be lost do not belong in the cache at all.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

from core.breaker import Breaker

#: After a cache error, go straight past the cache for this long.
CACHE_BACKOFF_SECONDS = 30.0

cache_breaker = Breaker("shared cache", backoff_seconds=CACHE_BACKOFF_SECONDS)


def cache_get(key: str) -> Any:
    """``cache.get`` that returns None instead of raising, and skips a cache that just failed."""
    if not cache_breaker.available():
        return None
    try:
        return cache.get(key)
    except Exception as exc:  # Redis away or hung: callers fall back
        cache_breaker.failed(exc)
        return None


def cache_set(key: str, value: Any, timeout: float) -> None:
    if not cache_breaker.available():
        return
    try:
        cache.set(key, value, timeout=timeout)
    except Exception as exc:
        cache_breaker.failed(exc)


def cache_add(key: str, value: Any, timeout: float) -> bool | None:
    """``cache.add``: True when this call stored the key, None when the cache is away."""
    if not cache_breaker.available():
        return None
    try:
        return bool(cache.add(key, value, timeout=timeout))
    except Exception as exc:
        cache_breaker.failed(exc)
        return None


def cache_delete(key: str) -> None:
    if not cache_breaker.available():
        return
    try:
        cache.delete(key)
    except Exception as exc:
        cache_breaker.failed(exc)
