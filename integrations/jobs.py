"""Periodic jobs of the integration API (listed in ``PERIODIC_JOBS``, hosted by the relay)."""

from __future__ import annotations

from core.jobs import PeriodicJob
from integrations.services import idempotency_purge


def jobs() -> list[PeriodicJob]:
    """Forget Idempotency-Key records past their 24 hours."""
    return [PeriodicJob("idempotency_purge", 3600, idempotency_purge)]
