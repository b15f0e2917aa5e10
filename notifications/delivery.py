"""Telegram channel of the outbox: one Bot API ``sendMessage`` per delivery."""

from __future__ import annotations

import time
from typing import Any

import httpx
from django.conf import settings

from loyalty.models import Customer
from outbox.models import Delivery
from outbox.transports import DeliveryFailed, SendOutcome, http_client
from notifications.texts import notification_text


def bot_api_url(token: str, method: str) -> str:
    return f"{settings.TELEGRAM_API_BASE_URL}/bot{token}/{method}"


def telegram_call(token: str, method: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = http_client().post(bot_api_url(token, method), json=payload)
    try:
        body = response.json()
    except ValueError:
        body = {"ok": False, "description": response.text[:200]}
    return response.status_code, body


def telegram_deliver(delivery: Delivery) -> SendOutcome:
    """Send the event's message to the delivery's chat; raises :class:`DeliveryFailed`."""
    token = settings.TELEGRAM_NOTIFY_BOT_TOKEN
    if not token:
        raise DeliveryFailed("TelegramNotConfigured", excerpt="TELEGRAM_NOTIFY_BOT_TOKEN is not set")
    event = delivery.event
    language = (
        Customer.objects.filter(id=delivery.customer_id).values_list("telegram_language", flat=True).first()
        or ""
    )
    text = notification_text(event.event_type, event.payload.get("data", {}), language)
    started = time.perf_counter()
    try:
        status, body = telegram_call(token, "sendMessage", {"chat_id": delivery.telegram_chat_id, "text": text})
    except httpx.HTTPError as exc:
        raise DeliveryFailed(exc.__class__.__name__) from None
    duration_ms = int((time.perf_counter() - started) * 1000)
    if status == 200 and body.get("ok"):
        return SendOutcome(status_code=status, duration_ms=duration_ms)
    description = str(body.get("description", ""))[:300]
    if status == 429:
        retry_after = float((body.get("parameters") or {}).get("retry_after", 1))
        raise DeliveryFailed("TelegramRetryAfter", status_code=429, retry_after=retry_after, excerpt=description)
    if status == 403:
        from loyalty.services import customer_telegram_unlink

        customer_telegram_unlink(chat_id=int(delivery.telegram_chat_id or 0), blocked=True)
        raise DeliveryFailed("TelegramForbidden", status_code=403, permanent=True, excerpt=description)
    raise DeliveryFailed(f"Telegram{status}", status_code=status, excerpt=description)
