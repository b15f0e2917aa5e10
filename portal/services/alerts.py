"""Alerts a merchant sets on their own webhook endpoints, sent to the merchant's Telegram chat.

Flow: staff get a one-time link code here (:func:`portal_telegram_link_code_issue`) and send it
to the platform bot (:mod:`notifications.merchant_chats` stores the chat on the merchant); per
endpoint they set "failing for N minutes" and/or "dead deliveries" (:func:`endpoint_alert_set`).
The relay hosts :func:`endpoint_alerts_check` (``portal.jobs``), which records each alert as one
Telegram message in the outbox (:func:`outbox.chat_messages.outbox_chat_message_record`), so it
is leased, retried, rate-limited and counted like every other message.

Cooldown: one alert per condition per endpoint until the condition clears (the endpoint
succeeds again, so ``failing_since`` is empty; no dead delivery is left). The cooldown state and
the outbox row commit together under the alert row's lock (``skip_locked``), so two relays
running the job never send the same alert twice, and a rolled-back check sends nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import ValidationFailed
from loyalty.models import Merchant
from notifications.merchant_chats import merchant_chat_unlink, merchant_link_code_issue
from outbox.chat_messages import ENDPOINT_ALERT, outbox_chat_message_record
from outbox.models import Delivery, DeliveryStatus
from portal.models import EndpointAlert, StaffUser
from portal.selectors import endpoint_get, endpoint_list
from portal.services.audit import audit_record
from portal.services.staff import WRITERS, staff_role_require

#: Longest "failing for N minutes" accepted: one week.
FAILING_MINUTES_MAX = 7 * 24 * 60


def portal_telegram_link_code_issue(
    *, by: StaffUser, address: str | None = None
) -> tuple[str, datetime]:
    """A one-time code linking a Telegram chat to the merchant; audited (never the code)."""
    staff_role_require(by, WRITERS)
    with transaction.atomic():
        code, expires = merchant_link_code_issue(merchant=by.merchant)
        audit_record(
            user=by,
            action="telegram.link_code",
            object_type="merchant",
            object_id=by.merchant_id,
            detail={"expires_at": expires.isoformat()},
            address=address,
        )
    return code, expires


def portal_telegram_unlink(*, by: StaffUser, address: str | None = None) -> bool:
    """Forget the merchant's chat (alerts then wait until a chat is linked again)."""
    staff_role_require(by, WRITERS)
    with transaction.atomic():
        was_linked = merchant_chat_unlink(merchant_id=by.merchant_id)
        audit_record(
            user=by,
            action="telegram.unlink",
            object_type="merchant",
            object_id=by.merchant_id,
            detail={"was_linked": was_linked},
            address=address,
        )
    return was_linked


def alert_settings(alert: EndpointAlert | None) -> dict[str, Any]:
    """An endpoint's alert as the API and the page show it (no alert: both off)."""
    return {
        "failing_minutes": alert.failing_minutes if alert else None,
        "on_dead": alert.on_dead if alert else False,
    }


def endpoint_alert_get(*, merchant_id: Any, endpoint_id: Any) -> dict[str, Any]:
    """One of the merchant's endpoints' alert settings; NotFound for anyone else's."""
    endpoint = endpoint_get(merchant_id=merchant_id, endpoint_id=endpoint_id)
    return alert_settings(EndpointAlert.objects.filter(endpoint=endpoint).first())


def endpoint_alert_rows(*, merchant_id: Any) -> list[dict[str, Any]]:
    """Each of the merchant's endpoints with its alert settings (the Alerts page)."""
    alerts = {a.endpoint_id: a for a in EndpointAlert.objects.filter(merchant_id=merchant_id)}
    return [
        {"endpoint": e, **alert_settings(alerts.get(e.id))}
        for e in endpoint_list(merchant_id=merchant_id)
    ]


def merchant_chat_linked(*, merchant_id: Any) -> bool:
    """Whether a Telegram chat gets the merchant's alerts (read fresh, not from a cached row)."""
    return Merchant.objects.filter(id=merchant_id, telegram_chat_id__isnull=False).exists()


def _alert_check(failing_minutes: Any, on_dead: Any) -> None:
    errors: dict[str, list[str]] = {}
    if failing_minutes is not None and (
        isinstance(failing_minutes, bool)
        or not isinstance(failing_minutes, int)
        or not 1 <= failing_minutes <= FAILING_MINUTES_MAX
    ):
        errors["failing_minutes"] = [
            f"Empty (off) or a whole number from 1 to {FAILING_MINUTES_MAX}."
        ]
    if not isinstance(on_dead, bool):
        errors["on_dead"] = ["true or false."]
    if errors:
        raise ValidationFailed("Fix the alert: " + ", ".join(sorted(errors)) + ".", errors=errors)


def endpoint_alert_set(
    *,
    by: StaffUser,
    endpoint_id: Any,
    failing_minutes: int | None,
    on_dead: bool,
    language: str = "",
    address: str | None = None,
) -> EndpointAlert:
    """Set (or switch off) the alert on one of the merchant's endpoints; audited before/after.

    Switching a condition off forgets its cooldown, so switching it on again alerts afresh."""
    staff_role_require(by, WRITERS)
    _alert_check(failing_minutes, on_dead)
    with transaction.atomic():
        endpoint = endpoint_get(merchant_id=by.merchant_id, endpoint_id=endpoint_id)
        alert, _ = EndpointAlert.objects.select_for_update().get_or_create(
            endpoint=endpoint, defaults={"merchant_id": by.merchant_id}
        )
        before = alert_settings(alert)
        alert.failing_minutes, alert.on_dead = failing_minutes, on_dead
        alert.language = language[:10]
        if failing_minutes is None:
            alert.failing_alerted_at = None
        if not on_dead:
            alert.dead_alerted_at = None
        alert.save()
        audit_record(
            user=by,
            action="webhook.alert_set",
            object_type="endpoint",
            object_id=endpoint.id,
            detail={"before": before, "after": alert_settings(alert)},
            address=address,
        )
    return alert


def _failing_minutes(alert: EndpointAlert, now: datetime) -> int | None:
    """Minutes the endpoint has been failing when past the alert's threshold, else None."""
    since = alert.endpoint.failing_since
    if alert.failing_minutes is None or since is None:
        return None
    minutes = int((now - since).total_seconds() // 60)
    return minutes if minutes >= alert.failing_minutes else None


def _alert_send(alert: EndpointAlert, chat_id: int, **data: Any) -> None:
    outbox_chat_message_record(
        merchant=alert.merchant,
        chat_id=chat_id,
        message_type=ENDPOINT_ALERT,
        data={
            "endpoint_id": str(alert.endpoint_id),
            "endpoint_url": alert.endpoint.url,
            "language": alert.language,
            **data,
        },
    )


def _alert_evaluate(alert_id: int, now: datetime) -> int:
    """Check one alert under its lock; returns the number of messages recorded (0 to 2)."""
    alert = (
        EndpointAlert.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("endpoint", "merchant")
        .filter(id=alert_id)
        .first()
    )
    if alert is None:
        return 0  # another relay is checking it right now
    chat_id = alert.merchant.telegram_chat_id
    sent, changed = 0, []
    failing = _failing_minutes(alert, now)
    if (
        failing is None
        and alert.failing_alerted_at is not None
        and alert.endpoint.failing_since is None
    ):
        alert.failing_alerted_at = None  # cleared: the next failure alerts again
        changed.append("failing_alerted_at")
    elif failing is not None and alert.failing_alerted_at is None and chat_id is not None:
        _alert_send(alert, chat_id, condition="failing", minutes=failing)
        alert.failing_alerted_at = now
        changed.append("failing_alerted_at")
        sent += 1
    if alert.on_dead:
        dead = Delivery.objects.filter(
            merchant_id=alert.merchant_id, endpoint_id=alert.endpoint_id, status=DeliveryStatus.DEAD
        ).count()
        if dead == 0 and alert.dead_alerted_at is not None:
            alert.dead_alerted_at = None
            changed.append("dead_alerted_at")
        elif dead and alert.dead_alerted_at is None and chat_id is not None:
            _alert_send(alert, chat_id, condition="dead", dead=dead)
            alert.dead_alerted_at = now
            changed.append("dead_alerted_at")
            sent += 1
    if changed:
        alert.save(update_fields=changed)
    return sent


def endpoint_alerts_check(*, now: datetime | None = None) -> int:
    """The periodic job: every set alert, each in its own short transaction; returns the
    number of alert messages recorded. No chat linked: nothing is sent and nothing is marked,
    so the alert goes out once a chat is linked (if the condition still holds)."""
    now = now or timezone.now()
    ids = list(
        EndpointAlert.objects.filter(Q(failing_minutes__isnull=False) | Q(on_dead=True))
        .order_by("id")
        .values_list("id", flat=True)
    )
    sent = 0
    for alert_id in ids:
        with transaction.atomic():
            sent += _alert_evaluate(alert_id, now)
    return sent
