"""Dramatiq actors of the customer bot: thin, idempotent, ids only."""

from __future__ import annotations

import dramatiq

from notifications.inbound import telegram_update_process

#: An update still running after this long is abandoned; its claim expires and the sweep retries.
PROCESS_TIME_LIMIT_MS = 60_000


@dramatiq.actor(queue_name="inbound", max_retries=0, time_limit=PROCESS_TIME_LIMIT_MS)
def process_telegram_update(update_id: int) -> None:
    """Process one stored update. Retries live in PostgreSQL (the row), never in the broker."""
    telegram_update_process(update_id=update_id)
