"""Test events: a merchant's "send a test event" to one webhook endpoint.

Decisions:

* Recorded as an ordinary outbox event (``webhook.test``) with one delivery, so the normal
  engine sends it: signed, retried, logged with its attempts, replayable, like any other.
* Targeted at the one endpoint asked for, whatever its event-type subscriptions: the merchant
  asked for this endpoint explicitly, and a test that a filter could swallow tests nothing.
  No other endpoint and no Telegram chat gets it.
* Unordered and without a customer: it joins no ordered stream, so it neither waits for nor
  holds up a customer's events, and takes no ``sequence`` number.
* A paused endpoint's test waits like its other deliveries; a disabled endpoint refuses it
  (it would only end as dead).
"""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from core.errors import ValidationFailed
from core.request_context import current_request_id
from loyalty.events import EventType
from outbox import wakeup
from outbox.models import Channel, Delivery, OutboxEvent, WebhookEndpoint

#: The ``data.message`` of every test event.
TEST_MESSAGE = "A test event sent from the merchant portal. No data changed."


def webhook_test_event_record(*, endpoint: WebhookEndpoint) -> Delivery:
    """Record one ``webhook.test`` event and its delivery to ``endpoint``; inside the caller's
    transaction (the audit row commits with it), the relay nudged on commit."""
    if not connection.in_atomic_block:
        raise RuntimeError("webhook_test_event_record must run inside a transaction")
    if not endpoint.is_enabled:
        raise ValidationFailed(
            "This endpoint is disabled; resume it before sending a test event.",
            errors={"endpoint": [endpoint.disabled_reason or "Disabled."]},
        )
    now = timezone.now()
    event = OutboxEvent.objects.create(
        merchant_id=endpoint.merchant_id,
        event_type=EventType.WEBHOOK_TEST,
        payload={
            "type": EventType.WEBHOOK_TEST.value,
            "timestamp": now.isoformat(),
            "data": {"endpoint_id": str(endpoint.id), "message": TEST_MESSAGE},
        },
        request_id=current_request_id() or "",
    )
    delivery = Delivery.objects.create(
        event=event,
        merchant_id=endpoint.merchant_id,
        channel=Channel.WEBHOOK,
        endpoint=endpoint,
        ordered=False,
        next_attempt_at=now,
    )
    wakeup.notify_on_commit()
    return delivery
