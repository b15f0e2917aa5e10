"""A merchant's program rules: earn rate, redeem cap, point value, expiry, credit delay, tiers.

The rules live here, not in the interfaces: :func:`program_settings_update` validates against
the domain's own limits (the same ones the check constraints hold), locks the program row and
writes program and tiers in one transaction. The purchase service reads the program when it
commits, so new rules apply to the next purchase; purchases already committed keep theirs.

Decision: every write goes through model ``save()``/``delete()`` (never queryset ``update()`` or
``bulk_create``) and the program row is saved *last*, even when only tiers changed. A per-process
cache of program+tiers is invalidated by ``post_save``/``post_delete`` on these two models, so a
settings change must always fire ``post_save`` on the program, after its tiers are in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from core.errors import ValidationFailed
from loyalty.models import LoyaltyProgram, Tier

#: field: (lowest, highest) accepted value.
PROGRAM_LIMITS = {
    "earn_bps": (0, 10_000),
    "redeem_cap_bps": (0, 10_000),
    "minor_per_point": (1, 1_000_000),
    "expiry_days": (1, 3650),
    "credit_delay_days": (0, 365),
}
#: Most tiers a program may have.
MAX_TIERS = 20
#: Highest tier threshold accepted (minor units).
TIER_SPEND_MAX = 10**12


@dataclass(frozen=True)
class ProgramSettingsChange:
    """What a settings update did: the program's id and its settings before and after (the
    caller's audit needs all three, read under the same row lock as the write)."""

    program_id: int
    before: dict[str, Any]
    after: dict[str, Any]


def program_settings(program: LoyaltyProgram) -> dict[str, Any]:
    """The program's rules and its tiers (lowest threshold first), as the portal shows them."""
    return {
        **{field: getattr(program, field) for field in PROGRAM_LIMITS},
        "tiers": [
            {
                "name": t.name,
                "min_lifetime_spend_minor": t.min_lifetime_spend_minor,
                "earn_bps": t.earn_bps,
            }
            for t in Tier.objects.filter(program=program).order_by("min_lifetime_spend_minor")
        ],
    }


def _whole(value: Any, low: int, high: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and low <= value <= high


def _values_check(values: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {
        field: ["Not a program setting."] for field in values if field not in PROGRAM_LIMITS
    }
    for field, (low, high) in PROGRAM_LIMITS.items():
        value = values.get(field)
        if value is None and field == "expiry_days":
            continue  # never expire
        if not _whole(value, low, high):
            errors[field] = [f"A whole number from {low} to {high}."]
    return errors


def _tiers_check(tiers: list[dict[str, Any]]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if len(tiers) > MAX_TIERS:
        errors["tiers"] = [f"At most {MAX_TIERS} tiers."]
    # repr: a form or a script may send anything here, hashable or not.
    thresholds = [repr(t.get("min_lifetime_spend_minor")) for t in tiers]
    if len(set(thresholds)) != len(thresholds):
        errors["tiers"] = ["Each tier needs its own spend threshold."]
    for i, tier in enumerate(tiers):
        name = tier.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 50:
            errors[f"tiers[{i}].name"] = ["1 to 50 characters."]
        if not _whole(tier.get("min_lifetime_spend_minor"), 0, TIER_SPEND_MAX):
            errors[f"tiers[{i}].min_lifetime_spend_minor"] = [f"0 to {TIER_SPEND_MAX}."]
        if not _whole(tier.get("earn_bps"), 0, 10_000):
            errors[f"tiers[{i}].earn_bps"] = ["0 to 10000."]
    return errors


def program_settings_check(values: dict[str, Any], tiers: list[dict[str, Any]] | None) -> None:
    """Raise :class:`ValidationFailed` naming every bad field; nothing is written."""
    errors = _values_check(values)
    if tiers is not None:
        errors.update(_tiers_check(tiers))
    if errors:
        raise ValidationFailed(
            "Fix these settings: " + ", ".join(sorted(errors)) + ".", errors=errors
        )


def _tiers_replace(program: LoyaltyProgram, tiers: list[dict[str, Any]]) -> None:
    """Make the program's tiers exactly ``tiers``, matched by threshold (the unique key): a kept
    threshold is updated in place, a dropped one deleted, a new one created; row by row so each
    change fires its model signal."""
    wanted = {t["min_lifetime_spend_minor"]: t for t in tiers}
    for tier in Tier.objects.select_for_update().filter(program=program):
        new = wanted.pop(tier.min_lifetime_spend_minor, None)
        if new is None:
            tier.delete()
        elif (tier.name, tier.earn_bps) != (new["name"].strip(), new["earn_bps"]):
            tier.name, tier.earn_bps = new["name"].strip(), new["earn_bps"]
            tier.save(update_fields=["name", "earn_bps"])
    for spend, new in wanted.items():
        Tier(
            program=program,
            name=new["name"].strip(),
            min_lifetime_spend_minor=spend,
            earn_bps=new["earn_bps"],
        ).save()


def program_settings_update(
    *, merchant_id: Any, values: dict[str, Any], tiers: list[dict[str, Any]] | None = None
) -> ProgramSettingsChange:
    """Replace the merchant's rules (and its tiers when ``tiers`` is not None).

    Answers the settings before and after, so the caller can audit the change. Joins the caller's
    transaction when there is one (the portal writes its audit row in the same one)."""
    program_settings_check(values, tiers)
    with transaction.atomic():
        program, _ = LoyaltyProgram.objects.select_for_update().get_or_create(
            merchant_id=merchant_id
        )
        before = program_settings(program)
        if tiers is not None:
            _tiers_replace(program, tiers)
        for field in PROGRAM_LIMITS:
            setattr(program, field, values.get(field))
        program.save(update_fields=list(PROGRAM_LIMITS))  # always: fires post_save (see above)
        return ProgramSettingsChange(
            program_id=program.id, before=before, after=program_settings(program)
        )
