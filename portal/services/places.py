"""Places (outlets, devices, managers) as their merchant manages them: create, rename,
deactivate, reactivate. Each through :mod:`loyalty.services.places`, writers only, each audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from loyalty.models import Device, Manager, Outlet
from loyalty.services import place_create, place_deactivate, place_reactivate, place_rename
from portal.models import StaffUser
from portal.services.audit import audit_record
from portal.services.staff import WRITERS, staff_role_require

Place = Outlet | Device | Manager


def portal_place_create(
    *, by: StaffUser, kind: str, name: Any, outlet_id: Any = None, address: str | None = None
) -> Place:
    staff_role_require(by, WRITERS)
    with transaction.atomic():
        row = place_create(merchant=by.merchant, kind=kind, name=name, outlet_id=outlet_id)
        audit_record(
            user=by,
            action=f"{kind}.create",
            object_type=kind,
            object_id=row.id,
            detail={"name": row.name},
            address=address,
        )
    return row


def portal_place_rename(
    *, by: StaffUser, kind: str, place_id: Any, name: Any, address: str | None = None
) -> Place:
    staff_role_require(by, WRITERS)
    with transaction.atomic():
        row, before = place_rename(merchant=by.merchant, kind=kind, place_id=place_id, name=name)
        audit_record(
            user=by,
            action=f"{kind}.rename",
            object_type=kind,
            object_id=row.id,
            detail={"before": before, "after": row.name},
            address=address,
        )
    return row


def portal_place_deactivate(
    *, by: StaffUser, kind: str, place_id: Any, address: str | None = None
) -> Place:
    staff_role_require(by, WRITERS)
    with transaction.atomic():
        row = place_deactivate(merchant=by.merchant, kind=kind, place_id=place_id)
        audit_record(
            user=by,
            action=f"{kind}.deactivate",
            object_type=kind,
            object_id=row.id,
            detail={"name": row.name},
            address=address,
        )
    return row


def portal_place_reactivate(
    *, by: StaffUser, kind: str, place_id: Any, address: str | None = None
) -> Place:
    """Bring a deactivated place back (an outlet without its devices; see the loyalty service)."""
    staff_role_require(by, WRITERS)
    with transaction.atomic():
        row = place_reactivate(merchant=by.merchant, kind=kind, place_id=place_id)
        audit_record(
            user=by,
            action=f"{kind}.reactivate",
            object_type=kind,
            object_id=row.id,
            detail={"name": row.name},
            address=address,
        )
    return row
