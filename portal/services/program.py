"""The merchant's program settings, changed by owners and managers from the portal.

The rules (validation, the row lock, the writes) are the loyalty domain's
(:func:`loyalty.services.program.program_settings_update`); this module adds only what the
portal owns: who may change them, and the audit row with the values before and after, written
in the same transaction as the change so there is never a change without its audit."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from loyalty.services.program import MAX_TIERS, PROGRAM_LIMITS, program_settings
from loyalty.services.program import program_settings_update as loyalty_program_settings_update
from portal.models import StaffUser
from portal.services.audit import audit_record
from portal.services.staff import WRITERS, staff_role_require

#: The domain's limits, under the name the portal's forms use.
LIMITS = PROGRAM_LIMITS

__all__ = ["LIMITS", "MAX_TIERS", "program_settings", "program_settings_update"]


def program_settings_update(
    *, by: StaffUser, values: dict[str, Any], tiers: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Replace the program's rules (and its tiers when given); answers the new settings."""
    staff_role_require(by, WRITERS)
    with transaction.atomic():
        change = loyalty_program_settings_update(
            merchant_id=by.merchant_id, values=values, tiers=tiers
        )
        audit_record(
            user=by,
            action="program.update",
            object_type="program",
            object_id=change.program_id,
            detail={"before": change.before, "after": change.after},
        )
    return change.after
