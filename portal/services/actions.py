"""What staff change through the portal, each through the domain's own service (and so its
outbox event) with an audit row beside it."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from loyalty.models import LedgerEntry, Refund
from loyalty.payloads import refund_result_payload
from loyalty.services import points_adjust, refund_create
from portal.models import StaffUser
from portal.services.audit import audit_record
from portal.services.idempotency import Replay, idempotency_claim, idempotency_key_check
from portal.services.staff import WRITERS, staff_role_require


def customer_points_adjust(
    *, by: StaffUser, customer_id: Any, points: int, reason: str, address: str | None = None
) -> LedgerEntry:
    """Add or remove a customer's points by hand (``points.adjusted`` event), audited in the
    same transaction."""
    staff_role_require(by, WRITERS)
    with transaction.atomic():
        entry = points_adjust(
            merchant=by.merchant, customer_id=customer_id, points=points, reason=reason
        )
        audit_record(
            user=by,
            action="points.adjust",
            object_type="customer",
            object_id=entry.customer_id,
            detail={"points": points, "reason": entry.reason, "ledger_entry": entry.id},
            address=address,
        )
    return entry


def purchase_refund(
    *,
    by: StaffUser,
    idempotency_key: str,
    purchase_id: Any,
    amount_minor: int | None = None,
    address: str | None = None,
) -> tuple[int, Any, bool]:
    """Refund all (``amount_minor`` None) or part of a purchase through ``refund_create``,
    idempotent per key; answers (status, body, replayed). The answer and the audit row commit
    in the refund's own transaction."""
    staff_role_require(by, WRITERS)
    key = idempotency_key_check(idempotency_key)

    def audit(refund: Refund) -> None:
        audit_record(
            user=by,
            action="purchase.refund",
            object_type="purchase",
            object_id=refund.purchase_id,
            detail={"refund_id": str(refund.id), "amount_minor": refund.amount_minor},
            address=address,
        )

    claim = idempotency_claim(
        user=by,
        key=key,
        body={"op": "refund", "purchase_id": str(purchase_id), "amount_minor": amount_minor},
        render=refund_result_payload,
        audit=audit,
    )
    if isinstance(claim, Replay):
        return claim.status_code, claim.body, True
    try:
        refund_create(
            merchant=by.merchant,
            purchase_id=purchase_id,
            amount_minor=amount_minor,
            idempotency=claim,
        )
    except BaseException:
        claim.release()
        raise
    return 201, claim.body, False
