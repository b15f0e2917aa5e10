"""A per-process cache of hot, rarely changed rows, dropped on change in every process.

For lookups the hot path repeats on every request (an API key by its prefix) where a row a few
seconds old is acceptable and a known bound is documented by the caller. Decisions:

* entries live at most ``max_age()`` seconds (read from settings at each lookup, so a test can
  set it small): this bound holds whatever happens, also for changes made by plain UPDATEs
  that no one announces, and while Redis is away;
* :meth:`LocalCache.invalidate` (called on change) empties this process's copy at once and
  again at commit, and bumps a version key in the shared cache (Redis); other processes
  compare that version at most once per :data:`VERSION_CHECK_SECONDS` and empty theirs when it
  moved, so an announced change shows everywhere within about a second;
* a load that raced with an invalidation is not stored (generation counter), so a stale row
  read before the change cannot outlive it;
* at most ``max_entries`` keys (default :data:`MAX_ENTRIES`) are kept: misses are cached too
  (an unknown key answers None without a query), so a stream of made-up keys would otherwise
  grow the process without bound; when full, the copy is emptied and refilled.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Generic, TypeVar

from django.db import transaction

from core.cache import cache_get, cache_set

#: How often a process asks Redis whether another process announced a change.
VERSION_CHECK_SECONDS = 1.0
#: The version key outlives any entry by far; losing it only costs one reload.
_VERSION_TTL = 7 * 24 * 3600
#: Keys one process keeps per cache (a few MB of rows at most).
MAX_ENTRIES = 10_000

ValueT = TypeVar("ValueT")


class LocalCache(Generic[ValueT]):
    """``get(key, load)``: this process's copy of ``load()``, at most ``max_age()`` seconds old."""

    def __init__(
        self, name: str, *, max_age: Callable[[], float], max_entries: int = MAX_ENTRIES
    ) -> None:
        self.name = name
        self.max_age = max_age
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, ValueT]] = {}
        self._generation = 0
        self._version: object = None
        self._checked_at = float("-inf")

    @property
    def _version_key(self) -> str:
        return f"local-cache-version:{self.name}"

    def get(self, key: str, load: Callable[[], ValueT]) -> ValueT:
        now = time.monotonic()
        self._version_check(now)
        max_age = self.max_age()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] < max_age:
            return entry[1]
        generation = self._generation
        value = load()
        if max_age > 0 and generation == self._generation:
            if len(self._entries) >= self.max_entries and key not in self._entries:
                self._entries.clear()  # full: start again rather than grow
            self._entries[key] = (now, value)
        return value

    def invalidate(self) -> None:
        """Drop every copy: here now and again at commit, elsewhere (within a second) at commit.

        Dropping at once serves the caller's own later reads in its transaction; dropping again
        at commit discards a copy another thread loaded in between (still the old row).
        """
        self._clear()
        transaction.on_commit(self._invalidate_now)

    def _invalidate_now(self) -> None:
        self._clear()
        version = uuid.uuid4().hex
        cache_set(self._version_key, version, timeout=_VERSION_TTL)
        self._version = version

    def _clear(self) -> None:
        self._generation += 1
        self._entries.clear()

    def _version_check(self, now: float) -> None:
        if now - self._checked_at < VERSION_CHECK_SECONDS:
            return
        self._checked_at = now
        version = cache_get(self._version_key)
        if version != self._version:
            self._version = version
            self._clear()
