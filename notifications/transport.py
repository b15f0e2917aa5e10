"""The outbox's ``telegram`` channel: customer notifications behind the shared rate limiter.

:class:`TelegramTransport` is what ``OUTBOX_TRANSPORTS`` names for the channel: it renders the
event's text (:mod:`notifications.texts`) in the customer's language, waits for a slot of the
shared send-rate limiter (:mod:`notifications.limiter`) and calls ``sendMessage``. The bot's
replies (:mod:`notifications.inbound`) send through the same :func:`bot_message_send`, so every
message to a customer shares one limiter and one error mapping. Failures are the outbox's
transport errors (:mod:`outbox.transports`):

* no limiter slot before the deadline, the limiter (Redis) away, or a lease too short for a
  send: :class:`~outbox.transports.Deferred` (nothing was sent; the engine puts the delivery back
  without counting a try or a failure);
* 429: :class:`~outbox.transports.Throttled` with Telegram's ``retry_after`` (the next try waits
  exactly that long and uses no retry step); the chat is also held in the limiter for that long;
* 403 (the user blocked the bot or deleted the account): :class:`~outbox.transports.TargetGone`;
  the engine ends the delivery and calls :meth:`TelegramTransport.target_gone`, which marks the
  chat's customers blocked, so they get no new deliveries;
* no chat or no text for the event: :class:`~outbox.transports.PermanentError`;
* other 4xx: a plain failure (the policy gives it 3 tries); 5xx and network errors: retried on
  the schedule.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.utils import timezone

from loyalty.models import Customer
from loyalty.services import customer_telegram_unlink
from notifications import metrics
from notifications.limiter import LimiterUnavailable, NoSlot, send_rate_limiter
from notifications.merchant_chats import merchant_chat_gone
from notifications.texts import notification_text
from outbox.models import Delivery
from outbox.transports import Deferred, PermanentError, Sent, Throttled, TransportError
from outbox.transports.telegram import BotApi

logger = logging.getLogger(__name__)

#: Seconds kept between the end of a send and the end of the delivery's lease, on top of the
#: HTTP timeout, so that a send never starts when the lease could run out before it ends (the
#: relay would hand the row out again and the customer would get the message twice).
LEASE_MARGIN_SECONDS = 1.0
#: retry_after of a send handed back because the limiter (Redis) could not be asked.
LIMITER_DOWN_RETRY_AFTER = 2.0
#: Telegram sends per worker process; the shared limiter keeps them within the Bot API's limits.
TELEGRAM_CONCURRENCY = 8


def customer_bot() -> BotApi:
    """The customer bot's Bot API; a retryable failure while its token is not set."""
    token = settings.TELEGRAM_NOTIFY_BOT_TOKEN
    if not token:
        metrics.BOT_ERRORS.labels("not_configured").inc()
        raise TransportError(
            "TelegramNotConfigured", excerpt="TELEGRAM_NOTIFY_BOT_TOKEN is not set"
        )
    return BotApi(str(token))


def bot_message_send(
    *,
    chat_id: int,
    text: str,
    deadline: float,
    reply_markup: dict[str, Any] | None = None,
) -> Sent:
    """Wait for a send slot (until ``deadline``, a monotonic time), then ``sendMessage``."""
    bot = customer_bot()
    limiter = send_rate_limiter()
    started = time.monotonic()
    try:
        ticket = limiter.acquire(bot=bot.bot_key, chat_id=chat_id, deadline=deadline)
    except NoSlot as exc:
        metrics.TELEGRAM_SEND_DEFERRED.inc()
        raise Deferred("RateLimiterBusy", retry_after=exc.retry_after) from None
    except LimiterUnavailable as exc:
        metrics.BOT_ERRORS.labels("limiter_unavailable").inc()
        raise Deferred(
            "RateLimiterUnavailable", retry_after=LIMITER_DOWN_RETRY_AFTER, excerpt=str(exc)
        ) from None
    metrics.TELEGRAM_LIMITER_WAIT.observe(time.monotonic() - started)
    payload: dict[str, Any] = {"chat_id": chat_id, "text": text}
    if reply_markup is not None:
        payload["reply_markup"] = reply_markup
    started = time.monotonic()
    try:
        try:
            bot.call("sendMessage", payload)
        finally:
            # Whatever happened, the message has reached the API by now if it ever will.
            limiter.release(ticket)
    except Throttled as throttled:
        metrics.TELEGRAM_RATE_LIMIT_HITS.inc()
        limiter.hold_chat(bot=bot.bot_key, chat_id=chat_id, seconds=throttled.retry_after)
        raise
    return Sent(status_code=200, duration_ms=int((time.monotonic() - started) * 1000))


def telegram_chat_gone(*, chat_id: int) -> None:
    """The chat blocked the bot (403): its customers are marked blocked and get no deliveries;
    a merchant whose alert chat it was forgets it."""
    blocked = customer_telegram_unlink(chat_id=chat_id, blocked=True)
    merchants = merchant_chat_gone(chat_id=chat_id)
    logger.info(
        "telegram chat blocked the bot",
        extra={"chat_id": chat_id, "customers": blocked, "merchants": merchants},
    )


def _send_deadline(delivery: Delivery) -> float:
    """Monotonic deadline of the limiter wait: the configured bound, shortened by the lease."""
    wait = settings.TELEGRAM_SEND_MAX_WAIT_SECONDS
    if delivery.lease_expires_at is not None:
        lease_left = (delivery.lease_expires_at - timezone.now()).total_seconds()
        wait = min(wait, lease_left - settings.OUTBOX_HTTP_TIMEOUT_SECONDS - LEASE_MARGIN_SECONDS)
    return time.monotonic() + wait


class TelegramTransport:
    """The ``telegram`` channel of the outbox (``OUTBOX_TRANSPORTS``)."""

    provider = "telegram"
    concurrency = TELEGRAM_CONCURRENCY

    def send(self, delivery: Delivery) -> Sent:
        """Send the event's message to the delivery's chat, in the customer's language."""
        if delivery.telegram_chat_id is None:
            raise PermanentError("TelegramNoChat", excerpt="delivery has no chat id")
        event = delivery.event
        language = ""
        if delivery.customer_id is not None:
            language = (
                Customer.objects.filter(id=delivery.customer_id)
                .values_list("telegram_language", flat=True)
                .first()
                or ""
            )
        try:
            text = notification_text(event.event_type, event.payload.get("data", {}), language)
        except KeyError:
            raise PermanentError(
                "TelegramNoTemplate", excerpt=f"no message for {event.event_type}"
            ) from None
        deadline = _send_deadline(delivery)
        if deadline <= time.monotonic():
            # The lease is nearly over (the batch waited long in the pool): hand the row back.
            metrics.TELEGRAM_SEND_DEFERRED.inc()
            raise Deferred("LeaseTooShort", retry_after=0.5)
        return bot_message_send(
            chat_id=int(delivery.telegram_chat_id), text=text, deadline=deadline
        )

    def target_gone(self, delivery: Delivery, *, reason: str) -> None:
        if delivery.telegram_chat_id is not None:
            telegram_chat_gone(chat_id=int(delivery.telegram_chat_id))
