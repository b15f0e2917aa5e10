"""Webhook endpoints as their merchant manages them: create (SSRF guard and event catalog in
``outbox.services``), subscriptions and ordering, pause/resume with a reason, secret rotation,
replay. Each through the outbox's own services, each audited."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import ValidationFailed
from loyalty.events import EventType
from outbox.models import Delivery, DeliveryStatus, WebhookEndpoint
from outbox.probes import webhook_test_event_record
from outbox.selectors import webhook_deliveries_about
from outbox.services import (
    SECRET_OVERLAP_DEFAULT,
    WEBHOOK_EVENT_TYPES,
    outbox_pause,
    outbox_replay,
    outbox_resume,
    webhook_endpoint_create,
    webhook_endpoint_enable,
    webhook_endpoint_rotate_secret,
)
from portal.models import StaffUser
from portal.selectors import endpoint_get
from portal.services.audit import audit_record
from portal.services.staff import WRITERS, staff_role_require

#: Most deliveries one "replay all failed" may re-queue (a window beyond it: narrow it).
REPLAY_LIMIT = 10_000
#: Event types the delivery log filters by: the subscribable ones and the portal's test event.
LOG_EVENT_TYPES = sorted({*WEBHOOK_EVENT_TYPES, EventType.WEBHOOK_TEST})
#: A rotation's default overlap, in the hours the portal speaks (the outbox's default).
OVERLAP_HOURS_DEFAULT = int(SECRET_OVERLAP_DEFAULT.total_seconds() // 3600)


def _types_check(event_types: Iterable[str]) -> list[str]:
    types = sorted(set(event_types))
    unknown = sorted(set(types) - set(WEBHOOK_EVENT_TYPES))
    if unknown:
        raise ValidationFailed(
            f"Unknown event types: {', '.join(unknown)}.",
            errors={"event_types": [f"Use some of: {', '.join(sorted(WEBHOOK_EVENT_TYPES))}."]},
        )
    return types


def endpoint_create(
    *, by: StaffUser, url: str, event_types: Iterable[str] = (), ordered: bool = True
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (shown once)."""
    staff_role_require(by, WRITERS)
    with transaction.atomic():
        endpoint, secret = webhook_endpoint_create(
            merchant=by.merchant, url=url, event_types=_types_check(event_types), ordered=ordered
        )
        audit_record(
            user=by,
            action="webhook.create",
            object_type="endpoint",
            object_id=endpoint.id,
            detail={"url": url, "event_types": endpoint.event_types, "ordered": ordered},
        )
    return endpoint, secret


def endpoint_update(
    *,
    by: StaffUser,
    endpoint_id: Any,
    event_types: Iterable[str] | None = None,
    ordered: bool | None = None,
) -> WebhookEndpoint:
    """Change an endpoint's subscriptions (empty: every event) or its ordering."""
    staff_role_require(by, WRITERS)
    with transaction.atomic():
        endpoint = endpoint_get(merchant_id=by.merchant_id, endpoint_id=endpoint_id)
        changes: dict[str, Any] = {}
        if event_types is not None:
            changes["event_types"] = _types_check(event_types)
        if ordered is not None:
            changes["ordered"] = ordered
        if changes:
            WebhookEndpoint.objects.filter(id=endpoint.id).update(**changes)
            audit_record(
                user=by,
                action="webhook.update",
                object_type="endpoint",
                object_id=endpoint.id,
                detail=changes,
            )
        endpoint.refresh_from_db()
    return endpoint


def endpoint_pause(*, by: StaffUser, endpoint_id: Any, reason: str) -> None:
    """Hold the endpoint's deliveries (they stay pending) with a reason."""
    staff_role_require(by, WRITERS)
    with transaction.atomic():
        endpoint = endpoint_get(merchant_id=by.merchant_id, endpoint_id=endpoint_id)
        outbox_pause(reason=reason, actor=f"portal:{by.email}", endpoint_id=str(endpoint.id))
        audit_record(
            user=by,
            action="webhook.pause",
            object_type="endpoint",
            object_id=endpoint.id,
            detail={"reason": reason.strip()[:300]},
        )


def endpoint_resume(*, by: StaffUser, endpoint_id: Any) -> None:
    """Let held deliveries flow again (oldest first); a disabled endpoint is re-enabled."""
    staff_role_require(by, WRITERS)
    with transaction.atomic():
        endpoint = endpoint_get(merchant_id=by.merchant_id, endpoint_id=endpoint_id)
        outbox_resume(actor=f"portal:{by.email}", endpoint_id=str(endpoint.id))
        if not endpoint.is_enabled:
            webhook_endpoint_enable(endpoint=endpoint)
        audit_record(
            user=by, action="webhook.resume", object_type="endpoint", object_id=endpoint.id
        )


def endpoint_secret_rotate(
    *, by: StaffUser, endpoint_id: Any, overlap_hours: int = OVERLAP_HOURS_DEFAULT
) -> tuple[str, datetime | None]:
    """A new signing secret (shown once) and until when the replaced one still signs too
    (``None``: ``overlap_hours=0``, it stopped at once, as for a compromised secret)."""
    staff_role_require(by, WRITERS)
    with transaction.atomic():
        # Locked: two rotations at once must not both keep the same "previous" secret.
        endpoint = WebhookEndpoint.objects.select_for_update().get(
            id=endpoint_get(merchant_id=by.merchant_id, endpoint_id=endpoint_id).id
        )
        secret = webhook_endpoint_rotate_secret(
            endpoint=endpoint, overlap=timedelta(hours=overlap_hours)
        )
        until = endpoint.previous_secret_expires_at
        audit_record(
            user=by,
            action="webhook.rotate_secret",
            object_type="endpoint",
            object_id=endpoint.id,
            detail={
                "overlap_hours": overlap_hours,
                "previous_valid_until": until.isoformat() if until else None,
            },
        )
    return secret, until


def endpoint_test_send(*, by: StaffUser, endpoint_id: Any) -> Delivery:
    """Send this endpoint a ``webhook.test`` event through the normal engine (whatever its
    subscriptions: :mod:`outbox.probes`); returns the delivery to follow in the log."""
    staff_role_require(by, WRITERS)
    with transaction.atomic():
        endpoint = endpoint_get(merchant_id=by.merchant_id, endpoint_id=endpoint_id)
        delivery = webhook_test_event_record(endpoint=endpoint)
        audit_record(
            user=by,
            action="webhook.test",
            object_type="endpoint",
            object_id=endpoint.id,
            detail={"delivery_id": delivery.id, "message_id": delivery.event.message_id},
        )
    return delivery


def deliveries_about(*, by: StaffUser, customer_id: Any = None, order_id: str = ""):
    """This merchant's webhook deliveries about one customer or one order (exactly one given)."""
    order_id = (order_id or "").strip()
    if (customer_id is None) == (not order_id):
        raise ValidationFailed(
            "Give a customer id or an order id (one of them).",
            errors={"customer_id": ["One of customer_id, order_id."]},
        )
    return webhook_deliveries_about(
        merchant_id=by.merchant_id, customer_id=customer_id, order_id=order_id
    )


def deliveries_replay_about(
    *, by: StaffUser, customer_id: Any = None, order_id: str = ""
) -> dict[str, int]:
    """Replay every finished webhook delivery about one customer or one order (same
    webhook-ids, fresh schedules); answers how many matched and how many were queued. Pending
    ones are left as they are (already on their way)."""
    staff_role_require(by, WRITERS)
    rows = deliveries_about(by=by, customer_id=customer_id, order_id=order_id)
    ids = list(rows.order_by("id").values_list("id", flat=True)[: REPLAY_LIMIT + 1])
    if len(ids) > REPLAY_LIMIT:
        raise ValidationFailed(f"More than {REPLAY_LIMIT} deliveries; replay by window instead.")
    with transaction.atomic():
        count = outbox_replay(deliveries=Delivery.objects.filter(id__in=ids))
        audit_record(
            user=by,
            action="webhook.replay_about",
            object_type="customer" if customer_id is not None else "order",
            object_id=str(customer_id) if customer_id is not None else order_id.strip()[:100],
            detail={"matched": len(ids), "replayed": count, "at": timezone.now().isoformat()},
        )
    return {"matched": len(ids), "replayed": count}


def deliveries_replay(
    *,
    by: StaffUser,
    delivery_id: int | None = None,
    endpoint_id: Any = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """Replay one delivery (any finished one), or every dead delivery in a time window (of one
    endpoint if given); the webhook-id stays, the schedule starts again."""
    staff_role_require(by, WRITERS)
    rows = Delivery.objects.filter(merchant_id=by.merchant_id, channel="webhook")
    if delivery_id is not None:
        rows = rows.filter(id=delivery_id)
        detail: dict[str, Any] = {"delivery_id": delivery_id}
    else:
        if since is None or until is None or since >= until:
            raise ValidationFailed(
                "Give a window: since before until.",
                errors={"since": ["Required, before until."], "until": ["Required."]},
            )
        rows = rows.filter(status=DeliveryStatus.DEAD, created_at__gte=since, created_at__lt=until)
        if endpoint_id:
            rows = rows.filter(
                endpoint=endpoint_get(merchant_id=by.merchant_id, endpoint_id=endpoint_id)
            )
        detail = {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "endpoint_id": str(endpoint_id or ""),
        }
    ids = list(rows.order_by("id").values_list("id", flat=True)[: REPLAY_LIMIT + 1])
    if len(ids) > REPLAY_LIMIT:
        raise ValidationFailed(f"More than {REPLAY_LIMIT} deliveries; narrow the window.")
    with transaction.atomic():
        count = outbox_replay(deliveries=Delivery.objects.filter(id__in=ids))
        audit_record(
            user=by,
            action="webhook.replay",
            object_type="delivery",
            object_id=delivery_id or "",
            detail={**detail, "replayed": count, "at": timezone.now().isoformat()},
        )
    return count
