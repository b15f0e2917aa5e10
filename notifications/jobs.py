"""Periodic jobs of the customer bot (listed in ``PERIODIC_JOBS``, hosted by the relay)."""

from __future__ import annotations

import logging
from datetime import timedelta

from core.jobs import PeriodicJob
from notifications.intake import telegram_update_wake
from notifications.metrics import inbound_gauges_store
from notifications.selectors import telegram_inbound_depth, telegram_updates_due
from notifications.services import telegram_updates_purge

logger = logging.getLogger(__name__)

#: Processed updates are kept this long (Telegram re-sends an update for at most a day).
UPDATE_RETENTION = timedelta(days=7)


def inbound_sweep() -> int:
    """Wake a worker for every update whose wake-up was lost or whose last try ran out, and
    publish ``inbound_queue_depth``; returns how many updates were woken."""
    inbound_gauges_store(depth=telegram_inbound_depth())
    woken = 0
    for update_id in telegram_updates_due():
        if not telegram_update_wake(update_id=update_id):
            break  # the broker is away: the rows wait for the next sweep
        woken += 1
    if woken:
        logger.info("woke telegram updates", extra={"count": woken})
    return woken


def inbound_purge() -> int:
    return telegram_updates_purge(older_than=UPDATE_RETENTION)


def jobs() -> list[PeriodicJob]:
    """Wake lost updates, publish the inbound depth, purge old updates."""
    return [
        PeriodicJob("telegram_inbound_sweep", 5, inbound_sweep),
        PeriodicJob("telegram_inbound_purge", 3600, inbound_purge),
    ]
