"""Platform messages to one Telegram chat through the outbox (today: a merchant's endpoint
alerts), so they are leased, retried, rate-limited and counted like every other message.

These are not domain events: no customer, no webhook endpoint receives them, and their type is
outside the loyalty vocabulary (``loyalty.events.EventType``), so they cannot be subscribed to.
The Telegram channel renders them by type (``notifications.texts.notification_text``).

Kept beside :func:`outbox.services.outbox_event_record` rather than inside it because that
function's fan-out (endpoints, customer chat) does not apply; like it, this must run inside the
caller's transaction, so the message exists only if the caller's state change commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import connection
from django.utils import timezone

from core.request_context import current_request_id
from loyalty.models import Merchant
from outbox import wakeup
from outbox.models import Channel, Delivery, OutboxEvent

#: A merchant's alert about one of their own webhook endpoints.
ENDPOINT_ALERT = "endpoint.alert"
#: Types this module records (and the Telegram channel must be able to render).
CHAT_MESSAGE_TYPES = frozenset({ENDPOINT_ALERT})


def outbox_chat_message_record(
    *, merchant: Merchant, chat_id: int, message_type: str, data: Mapping[str, Any]
) -> Delivery:
    """Store one message and its one Telegram delivery to ``chat_id``; the relay is nudged on
    commit. Unordered: an alert must not wait behind a stuck message to the same chat."""
    if not connection.in_atomic_block:
        raise RuntimeError("outbox_chat_message_record must run inside the caller's transaction")
    if message_type not in CHAT_MESSAGE_TYPES:
        raise ValueError(f"unknown chat message type {message_type}")
    now = timezone.now()
    event = OutboxEvent.objects.create(
        merchant=merchant,
        event_type=message_type,
        payload={"type": message_type, "timestamp": now.isoformat(), "data": dict(data)},
        request_id=current_request_id() or "",
    )
    delivery = Delivery.objects.create(
        event=event,
        merchant=merchant,
        channel=Channel.TELEGRAM,
        telegram_chat_id=chat_id,
        ordered=False,
        next_attempt_at=now,
    )
    wakeup.notify_on_commit()
    return delivery
