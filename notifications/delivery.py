"""Telegram transport of the customer bot: ``sendMessage`` behind the shared rate limiter.

Both paths that talk to customers send through :func:`bot_message_send`: the outbox engine (via
:func:`telegram_deliver`, one delivery per event and linked chat) and the bot's replies. Every
failure is an :class:`outbox.transports.DeliveryFailed` (STYLE: one error type per transport):

* no limiter slot before the deadline: ``deferred`` (nothing was sent; the engine puts the
  delivery back without counting a try or a failure);
* 429: ``throttled`` with Telegram's ``retry_after`` (the next try waits exactly that long and
  uses no retry step); the chat is also held in the limiter for that long;
* 403 (the user blocked the bot or deleted the account): the chat's customers are marked blocked
  and the failure is ``permanent``, so the delivery ends without retries;
* other 4xx: a plain failure (the policy gives it 3 tries); 5xx and network errors: retried on
  the schedule.

Bot API calls go through the outbox's pooled httpx client (timeouts set, no redirects) rather
than python-telegram-bot's asyncio ``Bot``: a Dramatiq worker thread is synchronous, and one
client keeps every call under the same limiter and error mapping.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

from loyalty.models import Customer
from notifications import metrics
from notifications.limiter import LimiterUnavailable, NoSlot, send_rate_limiter
from notifications.texts import notification_text
from outbox.models import Delivery
from outbox.transports import RETRY_AFTER_CAP, DeliveryFailed, SendOutcome, http_client

logger = logging.getLogger(__name__)

#: Seconds kept between the end of a send and the end of the delivery's lease, on top of the
#: HTTP timeout, so that a send never starts when the lease could run out before it ends (the
#: relay would hand the row out again and the customer would get the message twice).
LEASE_MARGIN_SECONDS = 1.0
#: retry_after used when Telegram sends a 429 without one.
DEFAULT_RETRY_AFTER = 1.0
#: retry_after of a send handed back because the limiter (Redis) could not be asked.
LIMITER_DOWN_RETRY_AFTER = 2.0


def bot_token() -> str:
    token = settings.TELEGRAM_NOTIFY_BOT_TOKEN
    if not token:
        metrics.BOT_ERRORS.labels("not_configured").inc()
        raise DeliveryFailed(
            "TelegramNotConfigured", excerpt="TELEGRAM_NOTIFY_BOT_TOKEN is not set"
        )
    return str(token)


def bot_api_url(token: str, method: str) -> str:
    return f"{settings.TELEGRAM_API_BASE_URL}/bot{token}/{method}"


def _bot_key(token: str) -> str:
    # The numeric bot id before the colon names the bot without revealing its secret part.
    return token.split(":", 1)[0]


def telegram_call(token: str, method: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """One Bot API call; returns the HTTP status and the JSON body (raises httpx errors)."""
    response = http_client().post(bot_api_url(token, method), json=payload)
    try:
        body = response.json()
    except ValueError:
        body = {"ok": False, "description": response.text[:200]}
    if not isinstance(body, dict):
        body = {"ok": False, "description": str(body)[:200]}
    return response.status_code, body


def bot_message_send(
    *,
    chat_id: int,
    text: str,
    deadline: float,
    reply_markup: dict[str, Any] | None = None,
) -> SendOutcome:
    """Wait for a send slot (until ``deadline``, a monotonic time), then ``sendMessage``."""
    token = bot_token()
    limiter = send_rate_limiter()
    started = time.monotonic()
    try:
        ticket = limiter.acquire(bot=_bot_key(token), chat_id=chat_id, deadline=deadline)
    except NoSlot as exc:
        metrics.TELEGRAM_SEND_DEFERRED.inc()
        raise DeliveryFailed(
            "RateLimiterBusy", retry_after=exc.retry_after, deferred=True
        ) from None
    except LimiterUnavailable as exc:
        metrics.BOT_ERRORS.labels("limiter_unavailable").inc()
        raise DeliveryFailed(
            "RateLimiterUnavailable",
            retry_after=LIMITER_DOWN_RETRY_AFTER,
            deferred=True,
            excerpt=str(exc),
        ) from None
    metrics.TELEGRAM_LIMITER_WAIT.observe(time.monotonic() - started)
    payload: dict[str, Any] = {"chat_id": chat_id, "text": text}
    if reply_markup is not None:
        payload["reply_markup"] = reply_markup
    started = time.monotonic()
    try:
        status, body = telegram_call(token, "sendMessage", payload)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(exc.__class__.__name__) from None
    finally:
        # Whatever happened, the message has reached the API by now if it ever will.
        limiter.release(ticket)
    duration_ms = int((time.monotonic() - started) * 1000)
    if status == 200 and body.get("ok"):
        return SendOutcome(status_code=status, duration_ms=duration_ms)
    description = str(body.get("description", ""))[:300]
    if status == 429:
        metrics.TELEGRAM_RATE_LIMIT_HITS.inc()
        retry_after = _retry_after(body)
        limiter.hold_chat(bot=_bot_key(token), chat_id=chat_id, seconds=retry_after)
        raise DeliveryFailed(
            "TelegramRetryAfter",
            status_code=429,
            retry_after=retry_after,
            throttled=True,
            excerpt=description,
        )
    if status == 403:
        from loyalty.services import customer_telegram_unlink

        blocked = customer_telegram_unlink(chat_id=chat_id, blocked=True)
        logger.info(
            "telegram chat blocked the bot", extra={"chat_id": chat_id, "customers": blocked}
        )
        raise DeliveryFailed(
            "TelegramForbidden",
            status_code=403,
            permanent=True,
            excerpt=description,
            disable_target="the user blocked the bot",
        )
    raise DeliveryFailed(f"Telegram{status}", status_code=status, excerpt=description)


def _retry_after(body: dict[str, Any]) -> float:
    parameters = body.get("parameters") or {}
    try:
        seconds = float(parameters.get("retry_after", DEFAULT_RETRY_AFTER))
    except (TypeError, ValueError):
        seconds = DEFAULT_RETRY_AFTER
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def _send_deadline(delivery: Delivery) -> float:
    """Monotonic deadline of the limiter wait: the configured bound, shortened by the lease."""
    wait = settings.TELEGRAM_SEND_MAX_WAIT_SECONDS
    if delivery.lease_expires_at is not None:
        lease_left = (delivery.lease_expires_at - timezone.now()).total_seconds()
        wait = min(wait, lease_left - settings.OUTBOX_HTTP_TIMEOUT_SECONDS - LEASE_MARGIN_SECONDS)
    return time.monotonic() + wait


def telegram_deliver(delivery: Delivery) -> SendOutcome:
    """Send the event's message to the delivery's chat; raises :class:`DeliveryFailed`."""
    if delivery.telegram_chat_id is None:
        raise DeliveryFailed("TelegramNoChat", permanent=True, excerpt="delivery has no chat id")
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
        raise DeliveryFailed(
            "TelegramNoTemplate", permanent=True, excerpt=f"no message for {event.event_type}"
        ) from None
    deadline = _send_deadline(delivery)
    if deadline <= time.monotonic():
        # The lease is nearly over (the batch waited long in the pool): hand the row back.
        metrics.TELEGRAM_SEND_DEFERRED.inc()
        raise DeliveryFailed("LeaseTooShort", retry_after=0.5, deferred=True)
    return bot_message_send(chat_id=int(delivery.telegram_chat_id), text=text, deadline=deadline)
