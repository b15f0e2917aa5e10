"""Integration API reads: the customer's ledger page by page."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from core.errors import ValidationFailed
from loyalty.models import LedgerEntry, Merchant
from loyalty.selectors import customer_get, ledger_list
from outbox.models import OutboxEvent

#: Page size when the client does not say, and the most it may ask for.
LEDGER_PAGE_DEFAULT = 50
LEDGER_PAGE_MAX = 200


@dataclass(frozen=True)
class LedgerPage:
    entries: list[LedgerEntry]
    #: Opaque cursor of the next (older) page, or None on the last page.
    next_cursor: str | None


def cursor_encode(last_id: int) -> str:
    raw = json.dumps({"before": last_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(cursor: str) -> int:
    """The ledger id a cursor points below; a cursor we did not issue is a 400."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        before = json.loads(raw)["before"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        before = None
    if isinstance(before, bool) or not isinstance(before, int) or before < 1:
        msg = "Pass the `next` of the previous page unchanged, or omit cursor for the first page."
        raise ValidationFailed(f"cursor is not valid. {msg}", errors={"cursor": [msg]})
    return before


def ledger_page(
    *,
    merchant: Merchant,
    customer_id: Any,
    limit: int = LEDGER_PAGE_DEFAULT,
    cursor: str | None = None,
) -> LedgerPage:
    """The customer's ledger entries, newest first, ``limit`` at a time (keyset pagination)."""
    customer = customer_get(merchant=merchant, customer_id=customer_id)
    entries = ledger_list(customer=customer)
    if cursor:
        entries = entries.filter(id__lt=cursor_decode(cursor))
    # One row more than asked tells whether another page exists, without a COUNT.
    rows = list(entries[: limit + 1])
    page = rows[:limit]
    next_cursor = cursor_encode(page[-1].id) if len(rows) > limit else None
    return LedgerPage(entries=page, next_cursor=next_cursor)


# --- the event feed (GET events) --------------------------------------------------------------

#: Events per page when the client does not say, and the most it may ask for.
EVENTS_PAGE_DEFAULT = 50
EVENTS_PAGE_MAX = 200


@dataclass(frozen=True)
class EventPage:
    #: Each item as the webhook body, plus its ``id`` (the ``webhook-id``).
    results: list[dict[str, Any]]
    #: Cursor to pass as ``after`` for the following events (None only before any event).
    next_cursor: str | None
    #: True when this page reached the newest event (poll again later with ``next``).
    done: bool


def event_cursor_encode(last_id: int) -> str:
    raw = json.dumps({"after": last_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def event_cursor_decode(cursor: str) -> int:
    """The event id a cursor points after; a cursor we did not issue is a 400."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        after = json.loads(raw)["after"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        after = None
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        msg = "Pass the `next` of the previous page unchanged, or omit after for the oldest events."
        raise ValidationFailed(f"after is not valid. {msg}", errors={"after": [msg]})
    return after


def event_page(
    *,
    merchant: Merchant,
    event_types: list[str],
    after: str | None = None,
    event_type: str | None = None,
    limit: int = EVENTS_PAGE_DEFAULT,
) -> EventPage:
    """The merchant's webhook events, oldest first, ``limit`` at a time (keyset on the event id,
    so events committed later always come after the cursor). The items are the stored webhook
    payloads with the event's ``msg_…`` id: byte for byte what the webhooks carry."""
    events = OutboxEvent.objects.filter(merchant=merchant, event_type__in=event_types)
    if event_type:
        events = events.filter(event_type=event_type)
    if after:
        events = events.filter(id__gt=event_cursor_decode(after))
    rows = list(events.order_by("id").values_list("id", "message_id", "payload")[: limit + 1])
    done = len(rows) <= limit
    rows = rows[:limit]
    results = [{"id": message_id, **payload} for _, message_id, payload in rows]
    # Always a cursor after the last row seen (or the one given): polling with it returns only
    # newer events, and an empty page keeps the place.
    if rows:
        next_cursor: str | None = event_cursor_encode(rows[-1][0])
    else:
        next_cursor = after or None
    return EventPage(results=results, next_cursor=next_cursor, done=done)
