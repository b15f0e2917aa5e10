"""Sign-in throttle: failed logins counted per account and per client address.

Policy (also in the README): after ``ACCOUNT_FAILURES`` failed sign-ins for one email within
``WINDOW`` seconds, that email is locked for ``WINDOW`` seconds; after ``ADDRESS_FAILURES``
failures from one client address within ``WINDOW``, that address is locked likewise. A locked
attempt is refused with 429 and ``Retry-After`` *before* the password hash is computed, so a
flood costs no PBKDF2 time. A successful sign-in clears its account's count (not the address's).
Counters live in the Django cache (Redis in production), so every gunicorn worker shares them.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.core.cache import cache

from portal.errors import LoginThrottled
from portal.metrics import PORTAL_AUTH_LOGIN, PORTAL_AUTH_THROTTLED

#: Failed sign-ins allowed per email within the window before it is locked.
ACCOUNT_FAILURES = 5
#: Failed sign-ins allowed per client address within the window (an office shares one address).
ADDRESS_FAILURES = 20
#: Seconds over which failures are counted, and how long a lock lasts.
WINDOW = 15 * 60


def _scopes(email: str, address: str | None) -> list[tuple[str, str, int]]:
    # Emails are hashed so that cache keys never hold personal data.
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    scopes = [("account", f"portal:login:account:{digest}", ACCOUNT_FAILURES)]
    if address:
        scopes.append(("address", f"portal:login:address:{address}", ADDRESS_FAILURES))
    return scopes


def login_throttle_check(*, email: str, address: str | None) -> None:
    """Raise :class:`LoginThrottled` while the account or the address is locked."""
    now = time.time()
    for scope, key, _limit in _scopes(email, address):
        until = cache.get(f"{key}:lock")
        if until is not None and until > now:
            PORTAL_AUTH_LOGIN.labels("throttled").inc()
            PORTAL_AUTH_THROTTLED.labels(scope).inc()
            which = "this account" if scope == "account" else "your address"
            raise LoginThrottled(
                f"Too many failed sign-ins for {which}; try again later.",
                retry_after=max(1, math.ceil(until - now)),
                scope=scope,
            )


def login_failure_record(*, email: str, address: str | None) -> None:
    """Count one failed sign-in; lock the scope that reaches its limit."""
    for _scope, key, limit in _scopes(email, address):
        # add() starts the window only with the first failure; incr() is atomic in Redis.
        cache.add(key, 0, timeout=WINDOW)
        try:
            failures = cache.incr(key)
        except ValueError:  # the window expired between add() and incr()
            cache.set(key, 1, timeout=WINDOW)
            failures = 1
        if failures >= limit:
            cache.set(f"{key}:lock", time.time() + WINDOW, timeout=WINDOW)
            cache.delete(key)


def login_success_record(*, email: str) -> None:
    """Clear the account's failures after a successful sign-in."""
    for _scope, key, _limit in _scopes(email, None):
        cache.delete(key)
