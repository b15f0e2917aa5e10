"""The audit trail: one row per portal action, written in the action's transaction."""

from __future__ import annotations

from typing import Any

from portal.models import AuditEntry, StaffUser


def audit_record(
    *,
    user: StaffUser,
    action: str,
    object_type: str = "",
    object_id: Any = "",
    detail: dict[str, Any] | None = None,
    address: str | None = None,
) -> AuditEntry:
    """Record that ``user`` did ``action`` (e.g. ``points.adjust``) to an object, now."""
    return AuditEntry.objects.create(
        merchant_id=user.merchant_id,
        user=user,
        actor=user.email,
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        detail=detail or {},
        address=address,
    )
