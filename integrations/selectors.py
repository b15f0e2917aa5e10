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
