"""Periodic jobs of the portal (listed in ``PERIODIC_JOBS``, hosted by the relay)."""

from __future__ import annotations

from core.jobs import PeriodicJob
from portal.services.idempotency import portal_idempotency_purge


def jobs() -> list[PeriodicJob]:
    """Forget the portal's Idempotency-Key records past their 24 hours."""
    return [PeriodicJob("portal_idempotency_purge", 3600, portal_idempotency_purge)]
