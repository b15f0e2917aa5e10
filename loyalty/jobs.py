"""Periodic jobs of the loyalty domain (listed in ``PERIODIC_JOBS``, hosted by the relay)."""

from __future__ import annotations

from core.jobs import PeriodicJob
from loyalty.services import points_credit_matured, points_expire_due, points_expiry_remind


def points_lifecycle() -> None:
    """Credit deferred points whose day has come, expire lots past their date, remind of soon
    expiring ones; each step works one customer per transaction and may run in several relays."""
    points_credit_matured()
    points_expire_due()
    points_expiry_remind()


def jobs() -> list[PeriodicJob]:
    return [PeriodicJob("points", 300, points_lifecycle)]
