"""Outbox writes: recording events with their deliveries, endpoints, pauses and replays.

:func:`outbox_event_record` is the only creator of outbox rows and must run inside the caller's
transaction, so that the domain change and its announcement commit or roll back together.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.errors import NotFound, ValidationFailed
from core.fast_sql import BatchRows, WriteBatch, model_rows
from core.request_context import current_request_id
from loyalty.events import EventType
from loyalty.models import Customer, Merchant, TelegramStatus
from outbox import wakeup
from outbox.crypto import secret_encrypt, webhook_secret_generate
from outbox.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    OutboxEvent,
    OutboxPause,
    PauseScope,
    StreamSequence,
    WebhookEndpoint,
)
from outbox.ssrf import target_check

#: Event types merchants' webhook endpoints receive (CONTRACT).
WEBHOOK_EVENT_TYPES = frozenset(
    {
        EventType.CUSTOMER_CREATED,
        EventType.CUSTOMER_TELEGRAM_LINKED,
        EventType.PURCHASE_COMMITTED,
        EventType.PURCHASE_REFUNDED,
        EventType.POINTS_ADJUSTED,
        EventType.POINTS_EXPIRED,
    }
)

#: Events a linked customer hears about in Telegram.
TELEGRAM_EVENT_TYPES = frozenset(
    {
        EventType.PURCHASE_COMMITTED,
        EventType.PURCHASE_REFUNDED,
        EventType.POINTS_ADJUSTED,
        EventType.POINTS_EXPIRED,
        EventType.CUSTOMER_TELEGRAM_LINKED,
        EventType.POINTS_EXPIRING_SOON,
    }
)


def outbox_event_record(
    *,
    merchant: Merchant,
    event_type: str,
    data: Mapping[str, Any],
    customer: Customer | None = None,
) -> OutboxEvent:
    """Store one event and a delivery per subscribed endpoint and per linked Telegram chat."""
    writes = WriteBatch()
    event = outbox_event_add(
        writes, merchant=merchant, event_type=event_type, data=data, customer=customer
    )
    writes.send()
    return event


def outbox_event_add(
    writes: WriteBatch,
    *,
    merchant: Merchant,
    event_type: str,
    data: Mapping[str, Any],
    customer: Customer | None = None,
) -> OutboxEvent:
    """:func:`outbox_event_record` into the caller's ``writes``: the event, its deliveries, the
    streams' sequence numbers and the relay's wake-up are written when the caller sends the
    batch, in the same transaction. On PostgreSQL the webhook deliveries are made in the
    database from the endpoints table (nothing is read before); elsewhere the endpoints are
    read and the sequences taken now. The event's key is set by ``writes.send()``."""
    if not connection.in_atomic_block:
        raise RuntimeError("outbox_event_record must run inside the domain transaction")
    if event_type not in EventType.values:
        raise ValueError(f"unknown event type {event_type}")
    now = timezone.now()
    event = writes.insert(
        OutboxEvent(
            merchant=merchant,
            event_type=event_type,
            customer_id=customer.id if customer else None,
            payload={"type": event_type, "timestamp": now.isoformat(), "data": dict(data)},
            request_id=current_request_id() or "",
        )
    )
    if connection.vendor == "postgresql":
        # The webhook deliveries (and the streams' sequence numbers) are made from the
        # endpoints table inside the batch's one statement: no round trip to read them first.
        webhooks = (
            _webhook_deliveries_add(
                writes, event=event, merchant=merchant, customer=customer, now=now
            )
            if event_type in WEBHOOK_EVENT_TYPES
            else None
        )
        telegram = _telegram_delivery(event, merchant=merchant, customer=customer, now=now)
        if telegram is not None:
            writes.insert(telegram)
            writes.notify(wakeup.CHANNEL)
        elif webhooks is not None:
            writes.notify(wakeup.CHANNEL, if_rows=webhooks)
        return event
    # Elsewhere (SQLite, the embedded run) the same rows from Python, one statement each.
    endpoints = [
        endpoint
        for endpoint in model_rows(WebhookEndpoint, merchant_id=merchant.id, is_enabled=True)
        if event_type in WEBHOOK_EVENT_TYPES and endpoint.subscribes_to(event_type)
    ]
    sequences = (
        _stream_sequences_next(
            endpoint_ids=[e.id for e in endpoints if e.ordered], customer_id=customer.id
        )
        if customer is not None
        else {}
    )
    deliveries = [
        Delivery(
            event=event,
            merchant=merchant,
            channel=Channel.WEBHOOK,
            endpoint=endpoint,
            customer_id=event.customer_id,
            ordered=endpoint.ordered,
            sequence=sequences.get(endpoint.id),
            next_attempt_at=now,
        )
        for endpoint in endpoints
    ]
    telegram = _telegram_delivery(event, merchant=merchant, customer=customer, now=now)
    if telegram is not None:
        deliveries.append(telegram)
    for delivery in deliveries:
        writes.insert(delivery)
    if deliveries:
        wakeup.notify_on_commit()
    return event


def _telegram_delivery(
    event: OutboxEvent, *, merchant: Merchant, customer: Customer | None, now: datetime
) -> Delivery | None:
    """The event's delivery to the customer's linked chat, if it is one they hear about."""
    if (
        customer is None
        or customer.telegram_status != TelegramStatus.LINKED
        or customer.telegram_chat_id is None
        or event.event_type not in TELEGRAM_EVENT_TYPES
    ):
        return None
    return Delivery(
        event=event,
        merchant=merchant,
        channel=Channel.TELEGRAM,
        telegram_chat_id=customer.telegram_chat_id,
        customer_id=event.customer_id,
        ordered=True,
        next_attempt_at=now,
    )


def _webhook_deliveries_add(
    writes: WriteBatch,
    *,
    event: OutboxEvent,
    merchant: Merchant,
    customer: Customer | None,
    now: datetime,
) -> BatchRows:
    """One delivery per enabled endpoint of ``merchant`` subscribed to the event, written in
    ``writes`` from the endpoints table (PostgreSQL); an ordered stream's ``sequence`` comes from
    the upsert of :class:`StreamSequence` in the same statement.

    The rules are those of the Python path below it (``is_enabled``, ``subscribes_to``: an
    empty ``event_types`` is every type) and of :func:`_stream_sequences_next` (the upsert's row
    locks, taken in endpoint order, hold a concurrent commit of the same stream until this
    transaction ends); both statements see one snapshot of the endpoints.
    """
    quote = connection.ops.quote_name
    endpoints = quote(WebhookEndpoint._meta.db_table)
    sequences = quote(StreamSequence._meta.db_table)
    merchant_id = Merchant._meta.pk.get_db_prep_value(merchant.id, connection)  # type: ignore[union-attr]
    # Only the models' table names are formatted in; every value is a parameter.
    subscribed = (
        "e.merchant_id = %s AND e.is_enabled "
        "AND (e.event_types = '[]'::jsonb OR e.event_types @> jsonb_build_array(%s::text))"
    )
    subscribed_params = [merchant_id, event.event_type]
    template = Delivery(
        event=event,
        merchant=merchant,
        channel=Channel.WEBHOOK,
        customer_id=event.customer_id,
        ordered=True,
        next_attempt_at=now,
    )
    if customer is None:
        return writes.insert_select(
            template,
            columns={"endpoint": "e.id", "ordered": "e.ordered"},
            source=f"{endpoints} e WHERE {subscribed}",
            params=subscribed_params,
        )
    customer_id = StreamSequence._meta.get_field("customer_id").get_db_prep_value(
        customer.id, connection
    )
    taken = writes.statement(
        f"INSERT INTO {sequences} (endpoint_id, customer_id, last_sequence) "  # noqa: S608
        f"SELECT e.id, %s, 1 FROM {endpoints} e WHERE {subscribed} AND e.ordered ORDER BY e.id "
        f"ON CONFLICT (endpoint_id, customer_id) "
        f"DO UPDATE SET last_sequence = {sequences}.last_sequence + 1 "
        f"RETURNING endpoint_id, last_sequence",
        [customer_id, *subscribed_params],
    )
    return writes.insert_select(
        template,
        columns={"endpoint": "e.id", "ordered": "e.ordered", "sequence": "s.last_sequence"},
        source=f"{endpoints} e LEFT JOIN {{taken}} s ON s.endpoint_id = e.id WHERE {subscribed}",
        params=subscribed_params,
        refs={"taken": taken},
    )


def _stream_sequences_next(*, endpoint_ids: list[Any], customer_id: Any) -> dict[Any, int]:
    """Take the next ``sequence`` of each ordered stream (endpoint + customer) of one event.

    One upsert for all the event's streams; its row locks hold a concurrent commit of the same
    stream until this transaction ends (a rollback gives the number back), and the rows are
    locked in endpoint order, so two events of one customer cannot deadlock over them.
    """
    if not endpoint_ids:
        return {}
    ordered_ids = sorted(endpoint_ids, key=str)
    endpoint_field = WebhookEndpoint._meta.pk
    customer_field = StreamSequence._meta.get_field("customer_id")
    assert endpoint_field is not None
    table = StreamSequence._meta.db_table
    params: list[Any] = []
    for endpoint_id in ordered_ids:
        params.append(endpoint_field.get_db_prep_value(endpoint_id, connection))
        params.append(customer_field.get_db_prep_value(customer_id, connection))
    values = ", ".join(["(%s, %s, 1)"] * len(ordered_ids))
    # Only the model's table name and placeholders are formatted in; every value is a parameter.
    sql = (
        f"INSERT INTO {table} (endpoint_id, customer_id, last_sequence) VALUES {values} "  # noqa: S608
        f"ON CONFLICT (endpoint_id, customer_id) "
        f"DO UPDATE SET last_sequence = {table}.last_sequence + 1 "
        f"RETURNING endpoint_id, last_sequence"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {uuid.UUID(str(endpoint_id)): int(last) for endpoint_id, last in rows}


def webhook_endpoint_create(
    *,
    merchant: Merchant,
    url: str,
    event_types: Iterable[str] = (),
    ordered: bool = True,
    retry_schedule: list[int] | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; returns it with its signing secret (shown once, stored encrypted)."""
    target_check(url)
    types = list(event_types)
    unknown = sorted(set(types) - set(WEBHOOK_EVENT_TYPES))
    if unknown:
        raise ValidationFailed(
            f"Unknown event types: {', '.join(unknown)}.",
            errors={"event_types": [f"Use some of: {', '.join(sorted(WEBHOOK_EVENT_TYPES))}."]},
        )
    if retry_schedule is not None and any(int(s) < 0 for s in retry_schedule):
        raise ValidationFailed("retry_schedule must be non-negative seconds.")
    secret = webhook_secret_generate()
    endpoint = WebhookEndpoint.objects.create(
        merchant=merchant,
        url=url,
        secret_encrypted=secret_encrypt(secret),
        event_types=types,
        ordered=ordered,
        retry_schedule=list(retry_schedule or []),
    )
    return endpoint, secret


#: How long a replaced signing secret keeps signing by default: a receiver has a day to switch.
SECRET_OVERLAP_DEFAULT = timedelta(hours=24)
#: The longest overlap a caller may ask for (Svix allows no more either).
SECRET_OVERLAP_MAX = timedelta(days=7)


def webhook_endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, overlap: timedelta = SECRET_OVERLAP_DEFAULT
) -> str:
    """A new signing secret (returned in clear, stored encrypted), effective at once.

    With an ``overlap`` the replaced secret keeps signing too until ``now + overlap``, so
    messages carry both signatures while the receiver switches; ``overlap=0`` drops it at once
    (for a compromised secret). Only the secret just replaced is kept: a rotation inside an
    overlap ends the older one's. The current token moves as it is (already encrypted).
    """
    if not timedelta(0) <= overlap <= SECRET_OVERLAP_MAX:
        raise ValidationFailed(
            "The overlap must be between 0 and 7 days.",
            errors={"overlap_hours": ["Give 0 (immediate) to 168 hours."]},
        )
    secret = webhook_secret_generate()
    if overlap:
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted
        endpoint.previous_secret_expires_at = timezone.now() + overlap
    else:
        endpoint.previous_secret_encrypted = ""
        endpoint.previous_secret_expires_at = None
    endpoint.secret_encrypted = secret_encrypt(secret)
    endpoint.save(
        update_fields=[
            "secret_encrypted",
            "previous_secret_encrypted",
            "previous_secret_expires_at",
        ]
    )
    return secret


def webhook_endpoint_disable(*, endpoint_id: uuid.UUID, reason: str) -> bool:
    return bool(
        WebhookEndpoint.objects.filter(id=endpoint_id, is_enabled=True).update(
            is_enabled=False, disabled_reason=reason[:300]
        )
    )


def webhook_endpoint_enable(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    WebhookEndpoint.objects.filter(id=endpoint.id).update(
        is_enabled=True,
        disabled_reason="",
        consecutive_failures=0,
        circuit_open_until=None,
        failing_since=None,
    )
    endpoint.refresh_from_db()
    return endpoint


def _pause_lookup(
    *, merchant_id: str | None, endpoint_id: str | None, channel: str | None
) -> dict[str, Any]:
    given = [v for v in (merchant_id, endpoint_id, channel) if v]
    if len(given) > 1:
        raise ValidationFailed("Give at most one of merchant, endpoint or channel.")
    if merchant_id:
        if not Merchant.objects.filter(id=merchant_id).exists():
            raise NotFound(f"No merchant {merchant_id}.")
        return {"scope": PauseScope.MERCHANT, "merchant_id": merchant_id}
    if endpoint_id:
        if not WebhookEndpoint.objects.filter(id=endpoint_id).exists():
            raise NotFound(f"No webhook endpoint {endpoint_id}.")
        return {"scope": PauseScope.ENDPOINT, "endpoint_id": endpoint_id}
    if channel:
        if channel not in Channel.values:
            raise ValidationFailed(f"channel must be one of {', '.join(Channel.values)}.")
        return {"scope": PauseScope.CHANNEL, "channel": channel}
    return {"scope": PauseScope.GLOBAL}


@transaction.atomic
def outbox_pause(
    *,
    reason: str,
    actor: str,
    merchant_id: str | None = None,
    endpoint_id: str | None = None,
    channel: str | None = None,
) -> OutboxPause:
    """Hold deliveries in a scope; pending work stays pending. Idempotent per scope."""
    if not reason or not reason.strip():
        raise ValidationFailed("A reason is required to pause.", errors={"reason": ["Say why."]})
    lookup = _pause_lookup(merchant_id=merchant_id, endpoint_id=endpoint_id, channel=channel)
    existing = OutboxPause.objects.filter(resumed_at=None, **lookup).first()
    if existing is not None:
        return existing
    return OutboxPause.objects.create(reason=reason.strip()[:300], created_by=actor, **lookup)


@transaction.atomic
def outbox_resume(
    *,
    actor: str,
    merchant_id: str | None = None,
    endpoint_id: str | None = None,
    channel: str | None = None,
) -> int:
    """End the active pause of a scope; returns how many pauses ended (0 or 1)."""
    lookup = _pause_lookup(merchant_id=merchant_id, endpoint_id=endpoint_id, channel=channel)
    ended = OutboxPause.objects.filter(resumed_at=None, **lookup).update(
        resumed_at=timezone.now(), resumed_by=actor
    )
    if ended:
        wakeup.notify_on_commit()
    return ended


def outbox_replay(*, deliveries: QuerySet[Delivery], now: datetime | None = None) -> int:
    """Re-queue finished deliveries with a fresh schedule; the event keeps its webhook-id."""
    now = now or timezone.now()
    with transaction.atomic():
        count = deliveries.filter(
            status__in=[DeliveryStatus.DEAD, DeliveryStatus.CANCELLED, DeliveryStatus.DELIVERED]
        ).update(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            lease_token=None,
            lease_expires_at=None,
            last_error="",
            delivered_at=None,
            updated_at=now,
        )
        if count:
            wakeup.notify_on_commit()
    return count


def outbox_retry_now(*, deliveries: QuerySet[Delivery]) -> int:
    """Make pending deliveries due immediately (keeps their attempt count)."""
    now = timezone.now()
    with transaction.atomic():
        count = deliveries.filter(status=DeliveryStatus.PENDING).update(
            next_attempt_at=now, updated_at=now
        )
        if count:
            wakeup.notify_on_commit()
    return count


def outbox_cancel(*, deliveries: QuerySet[Delivery]) -> int:
    """Stop pending deliveries for good (they can still be replayed)."""
    now = timezone.now()
    with transaction.atomic():
        count = deliveries.filter(status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.CANCELLED, updated_at=now
        )
        if count:
            # A cancelled delivery releases the next one of its stream at once.
            wakeup.notify_on_commit()
    return count
