"""Dramatiq actors of the customer bot: thin, idempotent, ids only."""

from __future__ import annotations

import logging

import dramatiq

from notifications import metrics
from notifications.inbound import telegram_update_process
from notifications.selectors import telegram_update_next_of_chat

logger = logging.getLogger(__name__)

#: An update still running after this long is abandoned; its claim expires and the sweep retries.
PROCESS_TIME_LIMIT_MS = 60_000


@dramatiq.actor(queue_name="inbound", max_retries=0, time_limit=PROCESS_TIME_LIMIT_MS)
def process_telegram_update(update_id: int) -> None:
    """Process one stored update. Retries live in PostgreSQL (the row), never in the broker.

    When it was processed, the chat's next stored update (whose own wake-up found this one
    open and left it) is handed on through the queue, not run here: the thread is free for
    other chats meanwhile, and a lost message only waits for the relay's inbound sweep.
    """
    if not telegram_update_process(update_id=update_id):
        return
    next_id = telegram_update_next_of_chat(update_id=update_id)
    if next_id is None:
        return
    try:
        process_telegram_update.send(next_id)
    except Exception as exc:  # the row waits for the sweep
        metrics.BOT_ERRORS.labels("enqueue_failed").inc()
        logger.warning(
            "could not hand on the chat's next update; the sweep will",
            extra={"update_id": next_id, "error": exc.__class__.__name__},
        )
