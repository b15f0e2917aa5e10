"""Reads of the customer bot: merchants by deep-link payload, linked customers, inbound backlog."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from loyalty.models import Customer, Merchant, TelegramStatus
from notifications.models import TelegramLinkRequest, TelegramUpdate

#: How long a /start waits for the phone number before it must be opened again.
LINK_REQUEST_TTL = timedelta(hours=1)
#: An unprocessed update nobody claimed is woken again after this long (its message was lost).
UNCLAIMED_GRACE = timedelta(seconds=10)


def merchant_get_by_start_payload(*, payload: str) -> Merchant | None:
    """The active merchant whose deep link carries ``payload`` (``/start <payload>``)."""
    if not payload:
        return None
    return Merchant.objects.filter(telegram_start_payload=payload, is_active=True).first()


def link_request_get(*, chat_id: int, now: datetime | None = None) -> TelegramLinkRequest | None:
    now = now or timezone.now()
    return (
        TelegramLinkRequest.objects.select_related("merchant")
        .filter(chat_id=chat_id, created_at__gt=now - LINK_REQUEST_TTL)
        .first()
    )


def customers_linked_to_chat(*, chat_id: int) -> list[Customer]:
    """Every customer (one per merchant) whose card is linked to this chat."""
    return list(
        Customer.objects.select_related("merchant")
        .filter(telegram_chat_id=chat_id, telegram_status=TelegramStatus.LINKED)
        .order_by("merchant__name", "created_at")
    )


def telegram_updates_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Unprocessed updates whose wake-up may have been lost or whose last try ran out."""
    now = now or timezone.now()
    return list(
        TelegramUpdate.objects.filter(processed_at=None)
        .filter(
            Q(claimed_until=None, received_at__lt=now - UNCLAIMED_GRACE) | Q(claimed_until__lt=now)
        )
        .order_by("update_id")
        .values_list("update_id", flat=True)[:limit]
    )


def telegram_inbound_depth() -> int:
    """Updates received and not processed yet (an index-only count on a partial index)."""
    return TelegramUpdate.objects.filter(processed_at=None).count()


def telegram_update_next_of_chat(*, update_id: int) -> int | None:
    """The next unprocessed update of ``update_id``'s chat (handed on in ``update_id`` order)."""
    chat_id = (
        TelegramUpdate.objects.filter(update_id=update_id).values_list("chat_id", flat=True).first()
    )
    if chat_id is None:
        return None
    return (
        TelegramUpdate.objects.filter(chat_id=chat_id, processed_at=None, update_id__gt=update_id)
        .order_by("update_id")
        .values_list("update_id", flat=True)
        .first()
    )
