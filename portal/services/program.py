"""The merchant's program settings, changed by owners and managers: validated here against the
domain's own limits (and its check constraints), effective for the next purchase (the domain
reads the program at commit), audited with the values before and after.

The loyalty app has no settings service yet; this one writes the two program tables with a row
lock, in one transaction, and is the only portal code that does."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from core.errors import ValidationFailed
from loyalty.models import LoyaltyProgram, Tier
from loyalty.selectors import program_for
from portal.models import StaffUser
from portal.services.audit import audit_record
from portal.services.staff import WRITERS, staff_role_require

#: field: (lowest, highest) accepted value.
LIMITS = {
    "earn_bps": (0, 10_000),
    "redeem_cap_bps": (0, 10_000),
    "minor_per_point": (1, 1_000_000),
    "expiry_days": (1, 3650),
    "credit_delay_days": (0, 365),
}
#: Most tiers a program may have.
MAX_TIERS = 20


def program_settings(program: LoyaltyProgram) -> dict[str, Any]:
    return {
        **{field: getattr(program, field) for field in LIMITS},
        "tiers": [
            {
                "name": t.name,
                "min_lifetime_spend_minor": t.min_lifetime_spend_minor,
                "earn_bps": t.earn_bps,
            }
            for t in Tier.objects.filter(program=program).order_by("min_lifetime_spend_minor")
        ],
    }


def _check(values: dict[str, Any], tiers: list[dict[str, Any]] | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for field, (low, high) in LIMITS.items():
        value = values.get(field)
        if value is None and field == "expiry_days":
            continue  # never expire
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            errors[field] = [f"A whole number from {low} to {high}."]
    if tiers is not None:
        if len(tiers) > MAX_TIERS:
            errors["tiers"] = [f"At most {MAX_TIERS} tiers."]
        thresholds = [t.get("min_lifetime_spend_minor") for t in tiers]
        if len(set(thresholds)) != len(thresholds):
            errors["tiers"] = ["Each tier needs its own spend threshold."]
        for i, tier in enumerate(tiers):
            name, spend, bps = (
                tier.get("name"),
                tier.get("min_lifetime_spend_minor"),
                tier.get("earn_bps"),
            )
            if not isinstance(name, str) or not name.strip() or len(name) > 50:
                errors[f"tiers[{i}].name"] = ["1 to 50 characters."]
            if isinstance(spend, bool) or not isinstance(spend, int) or not 0 <= spend <= 10**12:
                errors[f"tiers[{i}].min_lifetime_spend_minor"] = ["0 to 1000000000000."]
            if isinstance(bps, bool) or not isinstance(bps, int) or not 0 <= bps <= 10_000:
                errors[f"tiers[{i}].earn_bps"] = ["0 to 10000."]
    return errors


def program_settings_update(
    *, by: StaffUser, values: dict[str, Any], tiers: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Replace the program's rules (and its tiers when given); answers the new settings."""
    staff_role_require(by, WRITERS)
    errors = _check(values, tiers)
    if errors:
        raise ValidationFailed(
            "Fix these settings: " + ", ".join(sorted(errors)) + ".", errors=errors
        )
    with transaction.atomic():
        program = LoyaltyProgram.objects.select_for_update().get(id=program_for(by.merchant).id)
        before = program_settings(program)
        LoyaltyProgram.objects.filter(id=program.id).update(
            **{field: values.get(field) for field in LIMITS}
        )
        if tiers is not None:
            Tier.objects.filter(program=program).delete()
            Tier.objects.bulk_create(
                Tier(
                    program=program,
                    name=t["name"].strip(),
                    min_lifetime_spend_minor=t["min_lifetime_spend_minor"],
                    earn_bps=t["earn_bps"],
                )
                for t in tiers
            )
        program.refresh_from_db()
        after = program_settings(program)
        audit_record(
            user=by,
            action="program.update",
            object_type="program",
            object_id=program.id,
            detail={"before": before, "after": after},
        )
    return after
