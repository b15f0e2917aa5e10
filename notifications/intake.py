"""Taking Telegram updates in: store each once, then wake a worker after the commit.

The webhook view calls :func:`telegram_update_receive`; the relay's inbound sweep calls
:func:`telegram_update_wake` for updates whose wake-up was lost. Kept apart from
:mod:`notifications.services` because it sends to the ``process_telegram_update`` actor, whose
module imports the processing code, which uses the services: one direction, no circle.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from notifications import metrics
from notifications.actors import process_telegram_update
from notifications.models import TelegramUpdate

logger = logging.getLogger(__name__)


def _chat_id_of(payload: dict[str, Any]) -> int | None:
    message = payload.get("message") or payload.get("edited_message") or {}
    chat = message.get("chat") if isinstance(message, dict) else None
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    return chat_id if isinstance(chat_id, int) else None


def telegram_update_receive(*, payload: dict[str, Any]) -> tuple[TelegramUpdate, bool]:
    """Store an update once by ``update_id``; after the commit, wake a worker if it is new.

    Returns the row and whether it was new. The wake-up is best effort: the row is the truth and
    the relay's sweep wakes a worker for it when the message is lost (Redis away).
    """
    update_id = int(payload["update_id"])
    with transaction.atomic(durable=True):
        update, created = TelegramUpdate.objects.get_or_create(
            update_id=update_id, defaults={"payload": payload, "chat_id": _chat_id_of(payload)}
        )
        if created:
            transaction.on_commit(lambda: telegram_update_wake(update_id=update_id))
    return update, created


def telegram_update_wake(*, update_id: int) -> bool:
    """Send the inbound queue a wake-up for one update; False when the broker refused it."""
    try:
        process_telegram_update.send(update_id)
    except Exception as exc:  # the row waits for the sweep; the webhook must still answer 200
        metrics.BOT_ERRORS.labels("enqueue_failed").inc()
        logger.warning(
            "could not queue telegram update; the sweep will",
            extra={"update_id": update_id, "error": exc.__class__.__name__},
        )
        return False
    return True
