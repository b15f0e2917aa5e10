"""Integration API reads: the customer's ledger page by page, and refund results."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from core.errors import ValidationFailed
from loyalty.models import Customer, LedgerEntry, Merchant, Refund
from loyalty.selectors import customer_get, ledger_list
from loyalty.services import refund_payload

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


def ledger_entry_payload(entry: LedgerEntry) -> dict[str, Any]:
    """A ledger entry as the API shows it."""
    return {
        "id": entry.id,
        "kind": entry.kind,
        "points": entry.points,
        "pending_points": entry.pending_points,
        "balance_after": entry.balance_after,
        "purchase_id": str(entry.purchase_id) if entry.purchase_id else None,
        "refund_id": str(entry.refund_id) if entry.refund_id else None,
        "reason": entry.reason,
        "created_at": entry.created_at.isoformat(),
    }


def refund_result_payload(refund: Refund) -> dict[str, Any]:
    """A refund as the API answers it: the refund, its customer and their balance after it."""
    customer = Customer.objects.only("id", "balance_points").get(id=refund.purchase.customer_id)
    return {
        **refund_payload(refund),
        "customer_id": str(customer.id),
        "balance_points": customer.balance_points,
    }
