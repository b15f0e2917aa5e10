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
from django.utils import timezone

from core.parsers import text_is_storable
from notifications import metrics
from notifications.actors import process_telegram_update
from notifications.models import TelegramUpdate

logger = logging.getLogger(__name__)

#: PostgreSQL's bigint, where update and chat ids are kept.
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1


def _chat_id_raw(payload: dict[str, Any]) -> Any:
    message = payload.get("message") or payload.get("edited_message") or {}
    chat = message.get("chat") if isinstance(message, dict) else None
    return chat.get("id") if isinstance(chat, dict) else None


def _chat_id_of(payload: dict[str, Any]) -> int | None:
    chat_id = _chat_id_raw(payload)
    if isinstance(chat_id, bool) or not isinstance(chat_id, int):
        return None
    return chat_id if _BIGINT_MIN <= chat_id <= _BIGINT_MAX else None


def _storable_text(text: str) -> str:
    if text_is_storable(text):
        return text
    return "".join("\ufffd" if ch == "\x00" or "\ud800" <= ch <= "\udfff" else ch for ch in text)


def update_sanitise(value: Any) -> Any:
    """A copy of ``value`` that jsonb can store: NUL and lone surrogates become U+FFFD."""
    if isinstance(value, str):
        return _storable_text(value)
    if isinstance(value, dict):
        return {_storable_text(str(k)): update_sanitise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [update_sanitise(item) for item in value]
    return value


def _unprocessable_reason(update_id: int, payload: dict[str, Any]) -> str:
    """Why an update can be stored but never processed ("" when it can be)."""
    if not _BIGINT_MIN <= update_id <= _BIGINT_MAX:
        return "update_id does not fit a 64-bit integer; stored, not processed"
    chat_id = _chat_id_raw(payload)
    if isinstance(chat_id, int) and _chat_id_of(payload) is None:
        return "chat.id does not fit a 64-bit integer; stored, not processed"
    return ""


def _stored_update_id(update_id: int) -> int:
    """The key an update is stored under: its own id, or for an id past bigint (never one of
    Telegram's) a negative stand-in derived from it, so a resent copy still deduplicates."""
    if update_id <= _BIGINT_MAX:
        return update_id
    return -1 - (update_id % _BIGINT_MAX)


def telegram_update_receive(*, payload: dict[str, Any]) -> tuple[TelegramUpdate, bool]:
    """Store an update once by ``update_id``; after the commit, wake a worker if it is new.

    Returns the row and whether it was new. The wake-up is best effort: the row is the truth and
    the relay's sweep wakes a worker for it when the message is lost (Redis away).

    An update we could not process (an id past bigint; Telegram's are far below) is stored
    already given up, with the reason, and never queued: the webhook acknowledges it either way,
    since Telegram resends an unacknowledged update and holds the bot's later ones behind it.
    Text jsonb cannot hold (NUL, lone surrogates) is stored as U+FFFD.
    """
    payload = update_sanitise(payload)
    received_id = int(payload["update_id"])
    reason = _unprocessable_reason(received_id, payload)
    update_id = _stored_update_id(received_id)
    defaults: dict[str, Any] = {"payload": payload, "chat_id": _chat_id_of(payload)}
    if reason:
        defaults.update(processed_at=timezone.now(), error=reason)
    with transaction.atomic(durable=True):
        update, created = TelegramUpdate.objects.get_or_create(
            update_id=update_id, defaults=defaults
        )
        if created and not reason:
            transaction.on_commit(lambda: telegram_update_wake(update_id=update_id))
    if created and reason:
        metrics.BOT_ERRORS.labels("update_unprocessable").inc()
        logger.warning(
            "telegram update stored unprocessed", extra={"update_id": update_id, "reason": reason}
        )
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
