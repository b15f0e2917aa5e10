"""Transactional outbox: the payload stored once, one delivery per target, one attempt per try.

A delivery moves ``pending`` -> ``leased`` (claimed by a relay, lease held) -> ``delivered`` |
``pending`` (retry later) | ``dead`` (schedule exhausted or permanent failure) | ``cancelled``.
Retry state lives here, not in the broker: losing Redis loses nothing but a wake-up.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q
from django.db.models.fields.json import KT

from loyalty.events import EventType
from loyalty.models import Merchant


class Channel(models.TextChoices):
    WEBHOOK = "webhook", "Merchant webhook"
    TELEGRAM = "telegram", "Telegram message"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    LEASED = "leased", "In flight"
    DELIVERED = "delivered", "Delivered"
    DEAD = "dead", "Dead"
    CANCELLED = "cancelled", "Cancelled"


def _webhook_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class WebhookEndpoint(models.Model):
    """A merchant's HTTPS receiver. The signing secret is stored encrypted (it must be usable).

    After a rotation with an overlap the replaced secret stays valid until
    ``previous_secret_expires_at``: until then every message carries both signatures, so the
    receiver can switch to the new secret at its own pace. Only one previous secret is kept: a
    second rotation inside the overlap drops the oldest one.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2000)
    secret_encrypted = models.TextField()
    #: The secret replaced by the last rotation, encrypted like the current one; empty: none.
    previous_secret_encrypted = models.TextField(blank=True, default="")
    #: The previous secret signs messages until then (exclusive); empty: not at all.
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    #: Empty list: every event type.
    event_types = models.JSONField(default=list, blank=True)
    is_enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True, default="")
    #: Seconds between tries; empty means settings.OUTBOX_RETRY_SCHEDULE.
    retry_schedule = models.JSONField(default=list, blank=True)
    #: Deliver one customer's events to this endpoint in commit order.
    ordered = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    circuit_open_until = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.url

    def subscribes_to(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class OutboxEvent(models.Model):
    """One domain event; its payload is stored once whatever the number of targets."""

    id = models.BigAutoField(primary_key=True)
    #: Standard Webhooks ``webhook-id``: stable across retries and replays.
    message_id = models.CharField(max_length=40, unique=True, default=_webhook_message_id)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    customer_id = models.UUIDField(null=True, blank=True)
    payload = models.JSONField()
    request_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [
            # Replay by business object (portal): one customer's events, or one order's, found
            # without scanning the merchant's history. The order id is read from the payload
            # (purchase and refund events carry ``data.order_id``) by an expression index
            # rather than a column, so recording (outbox_event_record) stays as it is.
            models.Index(F("merchant"), F("customer_id"), name="event_merchant_customer_idx"),
            models.Index(
                F("merchant"), KT("payload__data__order_id"), name="event_merchant_order_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.message_id}"


class Delivery(models.Model):
    """One target of an event: a webhook endpoint or a Telegram chat."""

    id = models.BigAutoField(primary_key=True)
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    telegram_chat_id = models.BigIntegerField(null=True, blank=True)
    #: Ordering key: events of one customer to one target go out in commit order.
    customer_id = models.UUIDField(null=True, blank=True)
    ordered = models.BooleanField(default=True)
    #: Position in its ordered webhook stream (endpoint + customer), from 1, contiguous; sent as
    #: the body's top-level ``sequence``. Empty for unordered endpoints, events without a
    #: customer and Telegram deliveries. Set once at recording, so retries and replays keep it.
    sequence = models.PositiveBigIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            # The relay's claim: "pending and due, oldest first" stays an index scan.
            models.Index(
                fields=["next_attempt_at", "id"],
                name="delivery_due_idx",
                condition=Q(status="pending"),
            ),
            # Lease recovery: only in-flight rows are indexed.
            models.Index(
                fields=["lease_expires_at"],
                name="delivery_lease_idx",
                condition=Q(status="leased"),
            ),
            # Ordering check: is an earlier undelivered event waiting for this customer+target?
            models.Index(
                fields=["endpoint", "customer_id", "id"],
                name="delivery_order_idx",
                condition=Q(status__in=["pending", "leased"]),
            ),
            models.Index(
                fields=["telegram_chat_id", "id"],
                name="delivery_tg_order_idx",
                condition=Q(status__in=["pending", "leased"], channel="telegram"),
            ),
            models.Index(fields=["status", "updated_at"], name="delivery_status_updated_idx"),
            models.Index(fields=["merchant", "status"], name="delivery_merchant_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} delivery {self.id} ({self.status})"


class StreamSequence(models.Model):
    """The last ``sequence`` given in one ordered webhook stream (one endpoint, one customer).

    A counter of its own rather than a max over deliveries: retention deletes delivered rows,
    and the numbering must go on from where it was. Incremented by an upsert in the recording
    transaction (:func:`outbox.services.outbox_event_record`), whose row lock serialises
    concurrent commits of one stream until they commit or roll back, so numbers are never
    skipped or given twice.
    """

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="+")
    customer_id = models.UUIDField()
    last_sequence = models.PositiveBigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "customer_id"], name="stream_sequence_unique"
            )
        ]

    def __str__(self) -> str:
        return f"stream {self.endpoint_id}/{self.customer_id} at {self.last_sequence}"


class Attempt(models.Model):
    """One try of a delivery (HTTP request or Bot API call)."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_rows")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error_class = models.CharField(max_length=100, blank=True, default="")
    response_excerpt = models.CharField(max_length=500, blank=True, default="")
    #: The headers sent (signatures included: they are no secret); empty when nothing was
    #: sent (the SSRF guard refused the target). The body is not repeated here: it is the
    #: event's payload (plus ``sequence``), serialised the same way on every try
    #: (:func:`outbox.transports.webhook.webhook_body`).
    request_headers = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["started_at"], name="attempt_started_idx")]

    def __str__(self) -> str:
        return f"attempt {self.id} of delivery {self.delivery_id}"


class PauseScope(models.TextChoices):
    GLOBAL = "global", "Everything"
    MERCHANT = "merchant", "One merchant"
    ENDPOINT = "endpoint", "One webhook endpoint"
    CHANNEL = "channel", "One channel"


class OutboxPause(models.Model):
    """An operator's hold on delivery. Active while ``resumed_at`` is empty; kept as history."""

    scope = models.CharField(max_length=10, choices=PauseScope.choices)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, null=True, blank=True)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, null=True, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices, blank=True, default="")
    reason = models.CharField(max_length=300)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    resumed_by = models.CharField(max_length=150, blank=True, default="")
    resumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["scope"], name="pause_active_idx", condition=Q(resumed_at=None))
        ]

    def __str__(self) -> str:
        target = self.merchant_id or self.endpoint_id or self.channel or "all"
        return f"pause {self.scope} {target}: {self.reason}"
