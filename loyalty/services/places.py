"""Places: outlets, devices (registers) and managers: create, rename, deactivate, reactivate.

Every service is tenant-scoped: it takes the merchant and only touches that merchant's rows
(another merchant's id is :class:`core.errors.NotFound`). Deactivated places stay in history;
:func:`loyalty.services.place_resolve` refuses them for new purchases.

Reactivation is the exact inverse of one deactivation, never a cascade: reactivating an outlet
leaves its devices deactivated (they may have been switched off on purpose before the outlet
was; the merchant brings back the ones they want), and a device cannot come back while its
outlet is deactivated (it would take purchases at a closed outlet). A manager's outlet is only
a label (purchases do not check it), so a manager comes back regardless of it.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction

from core.errors import NotFound, ValidationFailed
from loyalty.models import Device, Manager, Merchant, Outlet

PLACE_KINDS: dict[str, type[Outlet] | type[Device] | type[Manager]] = {
    "outlet": Outlet,
    "device": Device,
    "manager": Manager,
}
NAME_MAX = 200


def _name_clean(name: Any) -> str:
    cleaned = str(name or "").strip()
    if not cleaned or len(cleaned) > NAME_MAX:
        msg = f"Give a name of 1 to {NAME_MAX} characters."
        raise ValidationFailed(msg, errors={"name": [msg]})
    return cleaned


def place_get(*, merchant: Merchant, kind: str, place_id: Any) -> Outlet | Device | Manager:
    """One of the merchant's places, locked for update; NotFound for anything else."""
    model = PLACE_KINDS.get(kind)
    if model is None:
        msg = f"kind must be one of {', '.join(PLACE_KINDS)}."
        raise ValidationFailed(msg, errors={"kind": [msg]})
    try:
        pk = uuid.UUID(str(place_id))
    except ValueError:
        pk = None
    row = (
        model.objects.select_for_update().filter(merchant=merchant, id=pk).first()  # type: ignore[attr-defined]
        if pk
        else None
    )
    if row is None:
        raise NotFound(f"No {kind} {place_id} at this merchant.")
    return row  # type: ignore[no-any-return]


@transaction.atomic
def place_create(
    *, merchant: Merchant, kind: str, name: Any, outlet_id: Any = None
) -> Outlet | Device | Manager:
    """A new outlet, device (needs ``outlet_id``) or manager (optional ``outlet_id``)."""
    cleaned = _name_clean(name)
    if kind == "outlet":
        return Outlet.objects.create(merchant=merchant, name=cleaned)
    if kind not in PLACE_KINDS:
        msg = f"kind must be one of {', '.join(PLACE_KINDS)}."
        raise ValidationFailed(msg, errors={"kind": [msg]})
    outlet = None
    if outlet_id:
        try:
            outlet = Outlet.objects.filter(
                merchant=merchant, id=uuid.UUID(str(outlet_id)), is_active=True
            ).first()
        except ValueError:
            outlet = None
        if outlet is None:
            msg = "Use an active outlet id of your own merchant."
            raise ValidationFailed(msg, errors={"outlet_id": [msg]})
    if kind == "device":
        if outlet is None:
            msg = "A device belongs to an outlet: send outlet_id."
            raise ValidationFailed(msg, errors={"outlet_id": [msg]})
        return Device.objects.create(merchant=merchant, outlet=outlet, name=cleaned)
    return Manager.objects.create(merchant=merchant, outlet=outlet, name=cleaned)


@transaction.atomic
def place_rename(
    *, merchant: Merchant, kind: str, place_id: Any, name: Any
) -> tuple[Outlet | Device | Manager, str]:
    """Rename; returns the row and its previous name (for the audit's before/after)."""
    cleaned = _name_clean(name)
    row = place_get(merchant=merchant, kind=kind, place_id=place_id)
    before = row.name
    row.name = cleaned
    row.save(update_fields=["name"])
    return row, before


@transaction.atomic
def place_deactivate(*, merchant: Merchant, kind: str, place_id: Any) -> Outlet | Device | Manager:
    """Deactivate (idempotent). An outlet's devices are deactivated with it."""
    row = place_get(merchant=merchant, kind=kind, place_id=place_id)
    if row.is_active:
        row.is_active = False
        row.save(update_fields=["is_active"])
    if kind == "outlet":
        Device.objects.filter(merchant=merchant, outlet_id=row.id, is_active=True).update(
            is_active=False
        )
    return row


@transaction.atomic
def place_reactivate(*, merchant: Merchant, kind: str, place_id: Any) -> Outlet | Device | Manager:
    """Reactivate (idempotent); never cascades. A device needs its outlet active first."""
    row = place_get(merchant=merchant, kind=kind, place_id=place_id)
    if row.is_active:
        return row
    if isinstance(row, Device):
        # Locked with the device so the outlet cannot be deactivated between check and write.
        outlet = Outlet.objects.select_for_update().get(id=row.outlet_id)
        if not outlet.is_active:
            msg = (
                f"Device {row.name!r} belongs to the deactivated outlet {outlet.name!r}: "
                "reactivate the outlet first."
            )
            raise ValidationFailed(msg, errors={"is_active": [msg]})
    row.is_active = True
    row.save(update_fields=["is_active"])
    return row
