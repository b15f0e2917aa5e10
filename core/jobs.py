"""Periodic jobs: each app exposes its own, the composition root lists who has some.

An app that needs something done every few seconds or hours (lease recovery, points expiry,
alerts, retention) defines ``jobs() -> list[PeriodicJob]`` in its ``jobs`` module. The project's
settings name those functions in ``PERIODIC_JOBS`` (``config/settings.py`` is the one place that
knows every app); :func:`periodic_jobs` resolves them for whoever hosts the jobs: the relay
process, or the embedded run's relay thread. So the host imports no app's jobs, and no app
imports another's.

Jobs must be safe to run in several relays at once (each claims its work or is idempotent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass
class PeriodicJob:
    """``run`` every ``every_seconds``; ``next_at`` is the host's bookkeeping (monotonic)."""

    name: str
    every_seconds: float
    run: Callable[[], object]
    next_at: float = 0.0


def periodic_jobs() -> list[PeriodicJob]:
    """A fresh list of every app's jobs, in ``PERIODIC_JOBS`` order."""
    jobs: list[PeriodicJob] = []
    for path in settings.PERIODIC_JOBS:
        provider: Callable[[], list[PeriodicJob]] = import_string(path)
        jobs.extend(provider())
    names = [job.name for job in jobs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"periodic jobs named twice: {', '.join(duplicates)}")
    return jobs
