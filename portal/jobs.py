"""Periodic jobs of the portal (listed in ``PERIODIC_JOBS``, hosted by the relay)."""

from __future__ import annotations

from core.jobs import PeriodicJob
from portal.services.alerts import endpoint_alerts_check
from portal.services.idempotency import portal_idempotency_purge

#: How often merchants' endpoint alerts are checked (seconds): "failing for N minutes" is
#: then late by at most this much.
ENDPOINT_ALERTS_EVERY = 60


def jobs() -> list[PeriodicJob]:
    """Forget the portal's Idempotency-Key records past their 24 hours; check merchants'
    endpoint alerts every minute."""
    return [
        PeriodicJob("portal_idempotency_purge", 3600, portal_idempotency_purge),
        PeriodicJob("portal_endpoint_alerts_check", ENDPOINT_ALERTS_EVERY, endpoint_alerts_check),
    ]
