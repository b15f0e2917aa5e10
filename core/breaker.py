"""The one in-process breaker: after a dependency failed, leave it alone for a while.

A hung Redis would otherwise cost every request its socket timeout. Each process keeps its own
state (nothing to share, nothing that can itself be down); the first failure and the recovery
are logged once, not per request. Used for the shared cache (:mod:`core.cache`) and the
integration API's rate-limit store. The webhook endpoints' circuit is another thing: it lives in
PostgreSQL, shared by every worker (``outbox.engine``).
"""

from __future__ import annotations

import logging
import threading
import time

logger = logging.getLogger(__name__)


class Breaker:
    """Open for ``backoff_seconds`` after :meth:`failed`; :meth:`succeeded` closes it early."""

    def __init__(
        self,
        name: str,
        *,
        backoff_seconds: float,
        log: logging.Logger | None = None,
        consequence: str = "",
    ) -> None:
        self.name = name
        self.backoff_seconds = backoff_seconds
        #: The user's logger (their module's name, where operators look) and what an outage
        #: means to them, e.g. "requests pass unthrottled".
        self._log = log or logger
        self._consequence = consequence or f"leaving it alone for {backoff_seconds:g}s"
        self._lock = threading.Lock()
        self._open_until = 0.0

    def available(self, now: float | None = None) -> bool:
        """True when the dependency may be asked (closed, or the backoff ran out)."""
        return (time.monotonic() if now is None else now) >= self._open_until

    def failed(self, exc: BaseException, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            # Log when it opens, not on every failure while open: once per backoff period.
            first = now >= self._open_until
            self._open_until = now + self.backoff_seconds
        if first:
            self._log.warning(
                "%s unreachable, %s: %s",
                self.name,
                self._consequence,
                exc.__class__.__name__,
                extra={"error": exc.__class__.__name__},
            )

    def succeeded(self) -> None:
        if not self._open_until:  # the common case, without taking the lock
            return
        with self._lock:
            if self._open_until:
                self._log.info("%s reachable again", self.name)
            self._open_until = 0.0
