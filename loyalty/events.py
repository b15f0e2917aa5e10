"""What the loyalty domain announces: the event types it records in the outbox.

The domain owns its vocabulary; the outbox stores, routes and delivers these events without
knowing what they mean (webhook subscriptions and Telegram texts are keyed by these values).
"""

from __future__ import annotations

from django.db import models


class EventType(models.TextChoices):
    CUSTOMER_CREATED = "customer.created"
    CUSTOMER_TELEGRAM_LINKED = "customer.telegram_linked"
    PURCHASE_COMMITTED = "purchase.committed"
    PURCHASE_REFUNDED = "purchase.refunded"
    POINTS_ADJUSTED = "points.adjusted"
    POINTS_EXPIRED = "points.expired"
    #: Webhook only: a merchant's "send a test event" to one endpoint (outbox.probes).
    WEBHOOK_TEST = "webhook.test"
    #: Telegram only: a reminder before points expire (not a webhook event type).
    POINTS_EXPIRING_SOON = "points.expiring_soon"
