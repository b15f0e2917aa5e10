"""The relay's heartbeat: written by a periodic job of the relay, read by /health, /ready and
/metrics.

Every :data:`RELAY_HEARTBEAT_INTERVAL_SECONDS` the relay records that it is alive, in two
places that do not need PostgreSQL: the shared cache (read by /health and /ready, and by the
api's /metrics as ``loyalty_relay_heartbeat_age_seconds``) and a gauge of the relay process,
``loyalty_relay_heartbeat_timestamp_seconds`` (multiprocess mode ``max``, in the shared metrics
directory: its file outlives a dead relay, so the value stops moving and ``time() - ...`` grows;
the rule ``LoyaltyRelayHeartbeatStale`` watches it). A relay stuck in one iteration (a hung
database call) stops beating as well: the job runs in the relay's loop, not in a thread of its
own. The same beat records the relay's resident memory in ``bot_memory_usage_bytes``.
"""

from __future__ import annotations

import os
import socket
import time

from prometheus_client import Gauge

from core.cache import cache_get, cache_set

#: How often the relay beats; /health calls a heartbeat older than
#: :data:`RELAY_HEARTBEAT_STALE_SECONDS` stale.
RELAY_HEARTBEAT_INTERVAL_SECONDS = 5
RELAY_HEARTBEAT_STALE_SECONDS = 60
RELAY_HEARTBEAT_CACHE_KEY = "platform_ops:relay:heartbeat"
#: Kept long after the relay stopped, so that /health says "stale" rather than "never seen".
RELAY_HEARTBEAT_TTL_SECONDS = 7 * 24 * 3600

PROCESS_MEMORY = Gauge(
    "bot_memory_usage_bytes",
    "Resident memory (RSS) of each platform process, by kind (api: as of the last scrape it "
    "answered; relay: every heartbeat; worker: after boot and every message).",
    ["process"],
    multiprocess_mode="liveall",
)


def process_memory_bytes() -> int | None:
    """This process's resident memory from /proc (Linux); None elsewhere."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def process_memory_record(kind: str) -> None:
    rss = process_memory_bytes()
    if rss is not None:
        PROCESS_MEMORY.labels(kind).set(rss)


RELAY_HEARTBEAT = Gauge(
    "loyalty_relay_heartbeat_timestamp_seconds",
    "Unix time of the relay's last heartbeat (the newest of all relays).",
    multiprocess_mode="max",
)


def relay_heartbeat(*, now: float | None = None) -> dict[str, object]:
    """Record that this relay is alive (cache and gauge); returns what was recorded."""
    at = time.time() if now is None else now
    beat: dict[str, object] = {"at": at, "host": socket.gethostname(), "pid": os.getpid()}
    RELAY_HEARTBEAT.set(at)
    process_memory_record("relay")
    # Best effort (the cache may be away): the gauge above still beats.
    cache_set(RELAY_HEARTBEAT_CACHE_KEY, beat, RELAY_HEARTBEAT_TTL_SECONDS)
    return beat


def relay_heartbeat_state(*, now: float | None = None) -> dict[str, object]:
    """``ok`` (fresh), ``stale`` (older than :data:`RELAY_HEARTBEAT_STALE_SECONDS`) or
    ``unknown`` (never seen, or the cache is away), with the age in seconds when known."""
    beat = cache_get(RELAY_HEARTBEAT_CACHE_KEY)
    if not isinstance(beat, dict) or "at" not in beat:
        return {"status": "unknown", "detail": "no relay heartbeat recorded (or cache away)"}
    age = max((time.time() if now is None else now) - float(beat["at"]), 0.0)
    status = "ok" if age <= RELAY_HEARTBEAT_STALE_SECONDS else "stale"
    return {"status": status, "age_seconds": round(age, 1), "host": str(beat.get("host", ""))}
