"""Processing one stored Telegram update: claim, handle and mark processed atomically, then reply.

Called by the ``process_telegram_update`` actor (queue ``inbound``) with an ``update_id``; any
number of wake-ups for one update are safe (STYLE: idempotent actors): the claim lets one worker
in, and "processed" commits together with the update's domain writes, so its effect happens
once. Replies go out after that commit, through the same rate limiter as notifications; a reply
that cannot be sent is counted in ``bot_errors_total`` and not retried later (the conversation has
moved on; the user can ask again).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications import metrics
from notifications.bot import Reply, update_handle
from notifications.services import (
    telegram_update_claim,
    telegram_update_fail,
    telegram_update_finish,
    telegram_update_release,
)
from notifications.transport import bot_message_send, telegram_chat_gone
from outbox import metrics as outbox_metrics
from outbox.transports import Deferred, TargetGone, Throttled, TransportError

logger = logging.getLogger(__name__)

#: Longest a reply waits for its rate-limiter slot (seconds).
REPLY_MAX_WAIT_SECONDS = 10.0
#: A reply answered 429 is retried in place when Telegram asks to wait at most this long.
REPLY_MAX_RETRY_AFTER = 10.0
#: Tries of one reply (429s and network errors).
REPLY_TRIES = 3


class LostClaim(Exception):
    """Another worker took the update over while this one handled it (our claim ran out)."""


def telegram_update_process(*, update_id: int) -> bool:
    """Process one update if it is still due; returns True when this call processed it.

    An update whose chat has an earlier one still open is left alone (the claim refuses it):
    once that earlier one's replies are out, the chat's next update is handed on
    (:func:`notifications.actors.process_telegram_update`), so one chat's updates are handled
    and answered in ``update_id`` order while other chats go in parallel.
    """
    update = telegram_update_claim(update_id=update_id)
    if update is None:
        return False  # processed already, another worker holds it, or an earlier one is open
    if not settings.TELEGRAM_NOTIFY_BOT_TOKEN:
        # Handling without being able to answer would link cards silently: wait for the token.
        metrics.BOT_ERRORS.labels("not_configured").inc()
        telegram_update_fail(update=update, error="TELEGRAM_NOTIFY_BOT_TOKEN is not set")
        return False
    try:
        with transaction.atomic():
            replies = update_handle(update.payload)
            if not telegram_update_finish(update=update, replying=True):
                raise LostClaim(f"update {update_id}")
    except LostClaim:
        logger.warning("telegram update claim lost; not replying", extra={"update_id": update_id})
        return False
    except Exception as exc:
        metrics.BOT_ERRORS.labels("handler_error").inc()
        logger.exception("telegram update failed", extra={"update_id": update_id})
        telegram_update_fail(update=update, error=f"{exc.__class__.__name__}: {exc}")
        return False
    metrics.WEBHOOK_PROCESSING_LAG.observe(
        max((timezone.now() - update.received_at).total_seconds(), 0.0)
    )
    try:
        for reply in replies:
            reply_send(reply)
    finally:
        # The chat's next update may go now: its replies will follow these.
        telegram_update_release(update=update)
    return True


def reply_send(reply: Reply) -> bool:
    """Send one reply, retrying in place after a short 429 or a network error.

    A reply is not an outbox delivery, so this is where its failures are decided: no slot in
    time or a permanent refusal gives up; a chat that blocked the bot (:class:`TargetGone`) has
    its customers marked blocked, as a delivery's would be.
    """
    deadline = time.monotonic() + REPLY_MAX_WAIT_SECONDS
    for _ in range(REPLY_TRIES):
        try:
            sent = bot_message_send(
                chat_id=reply.chat_id,
                text=reply.text,
                reply_markup=reply.reply_markup,
                deadline=deadline,
            )
        except Deferred:  # no slot before the deadline: nothing was sent
            metrics.BOT_ERRORS.labels("reply_failed").inc()
            return False
        except TransportError as failure:
            # Replies are not outbox deliveries, so the engine does not count them: count here.
            outbox_metrics.external_result(
                "telegram",
                status_code=failure.status_code,
                ok=False,
                error=failure.status_code is None,
            )
            if failure.status_code == 429:
                outbox_metrics.OUTBOUND_429.labels("telegram").inc()
            if isinstance(failure, TargetGone):
                telegram_chat_gone(chat_id=reply.chat_id)
                metrics.BOT_ERRORS.labels("reply_blocked").inc()
                return False
            if failure.permanent:
                metrics.BOT_ERRORS.labels("reply_failed").inc()
                return False
            throttled = isinstance(failure, Throttled)
            retryable = throttled or failure.status_code is None or failure.status_code >= 500
            wait = failure.retry_after if throttled else 1.0
            if not retryable or wait is None or wait > REPLY_MAX_RETRY_AFTER:
                metrics.BOT_ERRORS.labels("reply_failed").inc()
                logger.warning("telegram reply not sent", extra={"error": failure.error_class})
                return False
            time.sleep(wait)
            deadline = max(deadline, time.monotonic() + REPLY_MAX_WAIT_SECONDS / 2)
            continue
        outbox_metrics.external_result("telegram", status_code=sent.status_code, ok=True)
        return True
    metrics.BOT_ERRORS.labels("reply_failed").inc()
    return False
