"""Portal places services: writers only, tenant-scoped, each change audited with who."""

from __future__ import annotations

import pytest

from core.errors import NotFound
from loyalty.models import Outlet
from portal.errors import Forbidden
from portal.models import AuditEntry
from portal.services.places import (
    portal_place_create,
    portal_place_deactivate,
    portal_place_rename,
)

pytestmark = pytest.mark.django_db


def test_manager_creates_renames_deactivates_and_each_is_audited(staff):
    outlet = portal_place_create(by=staff.manager, kind="outlet", name="Riverside")
    portal_place_rename(by=staff.manager, kind="outlet", place_id=outlet.id, name="Quay")
    portal_place_deactivate(by=staff.owner, kind="outlet", place_id=outlet.id)
    row = Outlet.objects.get(id=outlet.id)
    assert row.name == "Quay" and not row.is_active
    audits = list(
        AuditEntry.objects.filter(object_id=str(outlet.id))
        .order_by("id")
        .values_list("action", "user_id", "detail")
    )
    assert [a[0] for a in audits] == ["outlet.create", "outlet.rename", "outlet.deactivate"]
    assert [a[1] for a in audits] == [staff.manager.id, staff.manager.id, staff.owner.id]
    assert audits[1][2] == {"before": "Riverside", "after": "Quay"}


def test_viewer_is_refused_and_other_merchants_rows_are_not_found(staff, other_staff):
    with pytest.raises(Forbidden):
        portal_place_create(by=staff.viewer, kind="outlet", name="Nope")
    foreign = other_staff.merchant.outlets.get()
    with pytest.raises(NotFound):
        portal_place_rename(by=staff.owner, kind="outlet", place_id=foreign.id, name="Mine")
    with pytest.raises(NotFound):
        portal_place_deactivate(by=staff.owner, kind="outlet", place_id=foreign.id)
    assert Outlet.objects.get(id=foreign.id).is_active
    assert not AuditEntry.objects.filter(action__startswith="outlet.").exists()
