"""Operations reads: the effective site modes.

Read on every request, so cached and degrading instead of failing: a cache that is down is
skipped for a while, a database that is down leaves the environment's word (and the last state
this process saw). The outbox figures operators watch are read in :mod:`outbox.selectors`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

from core.cache import cache_delete, cache_get, cache_set
from outbox.models import Attempt
from platform_ops.models import SiteMode, SiteModeChange

logger = logging.getLogger(__name__)

#: How long a process trusts the modes it read, without asking anyone (per process).
MODES_LOCAL_SECONDS = 2.0
#: How long the modes read from the database stay in the shared cache.
MODES_CACHE_SECONDS = 10
MODES_CACHE_KEY = "platform_ops:site_modes"


@dataclass(frozen=True)
class SiteModes:
    """The effective modes: the environment's setting OR the newest admin switch."""

    maintenance: bool = False
    read_only: bool = False
    #: Where each active mode comes from ("env", "admin", "env+admin"), for the admin banner.
    maintenance_source: str = ""
    read_only_source: str = ""


_local_lock = threading.Lock()
_local: dict[str, Any] = {"switches": None, "until": 0.0}


def _switches_from_db() -> dict[str, bool]:
    switches = {}
    for mode in SiteMode.values:
        latest = SiteModeChange.objects.filter(mode=mode).order_by("-id").values("enabled").first()
        switches[mode] = bool(latest and latest["enabled"])
    return switches


def _switches() -> dict[str, bool]:
    now = time.monotonic()
    if _local["switches"] is not None and now < _local["until"]:
        return _local["switches"]
    switches = cache_get(MODES_CACHE_KEY)
    if switches is None:
        try:
            switches = _switches_from_db()
        except Exception as exc:  # database away or table missing: env and last known state
            logger.warning("site modes unreadable", extra={"error": exc.__class__.__name__})
            switches = _local["switches"] or {}
        else:
            cache_set(MODES_CACHE_KEY, switches, MODES_CACHE_SECONDS)
    with _local_lock:
        _local.update(switches=switches, until=now + MODES_LOCAL_SECONDS)
    return switches


def _source(env_on: bool, admin_on: bool) -> str:
    return "+".join(name for name, on in (("env", env_on), ("admin", admin_on)) if on)


def site_modes_current() -> SiteModes:
    switches = _switches()
    maintenance_admin = switches.get(SiteMode.MAINTENANCE, False)
    read_only_admin = switches.get(SiteMode.READ_ONLY, False)
    return SiteModes(
        maintenance=settings.MAINTENANCE_MODE or maintenance_admin,
        read_only=settings.READ_ONLY_MODE or read_only_admin,
        maintenance_source=_source(settings.MAINTENANCE_MODE, maintenance_admin),
        read_only_source=_source(settings.READ_ONLY_MODE, read_only_admin),
    )


def site_modes_forget() -> None:
    """Drop the cached modes (this process's and the shared ones) after a switch changed."""
    with _local_lock:
        _local.update(switches=None, until=0.0)
    cache_delete(MODES_CACHE_KEY)


def site_mode_history(*, limit: int = 20) -> list[SiteModeChange]:
    return list(SiteModeChange.objects.order_by("-id")[:limit])


def rate_limited_attempts_recent(*, since: datetime, limit: int = 20) -> list[dict[str, Any]]:
    """The latest tries answered 429 since ``since`` (newest first): when, channel, target."""
    rows = (
        Attempt.objects.filter(status_code=429, started_at__gte=since)
        .select_related("delivery")
        .order_by("-started_at")[:limit]
    )
    return [
        {
            "at": row.started_at,
            "channel": row.delivery.channel,
            "target": str(row.delivery.endpoint_id or row.delivery.telegram_chat_id or ""),
            "merchant_id": str(row.delivery.merchant_id),
            "excerpt": row.response_excerpt[:120],
        }
        for row in rows
    ]


def rate_limited_attempts_count(*, since: datetime) -> dict[str, int]:
    """429 answers since ``since`` by channel."""
    counts: dict[str, int] = {}
    for channel in Attempt.objects.filter(status_code=429, started_at__gte=since).values_list(
        "delivery__channel", flat=True
    ):
        counts[channel] = counts.get(channel, 0) + 1
    return counts
