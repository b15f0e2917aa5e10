"""Portal places API: list per kind with is_active, create, rename and deactivate through
PATCH; viewers read but are refused writes (403 problem); another merchant's place is 404."""

from __future__ import annotations

import pytest

from loyalty.models import Device, Outlet
from portal.models import AuditEntry
from tests.portal.conftest import signed_in

pytestmark = pytest.mark.django_db

BASE = "/api/portal/v1/places"


def test_manager_creates_renames_and_deactivates_an_outlet(staff, as_manager):
    created = as_manager.post(f"{BASE}/outlet", {"name": "Riverside"}, format="json")
    assert created.status_code == 201, created.content
    outlet_id = created.json()["id"]
    assert created.json() == {"id": outlet_id, "name": "Riverside", "is_active": True}

    renamed = as_manager.patch(f"{BASE}/outlet/{outlet_id}", {"name": "Quay"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Quay"

    device = as_manager.post(
        f"{BASE}/device", {"name": "Till 1", "outlet_id": outlet_id}, format="json"
    )
    assert device.status_code == 201 and device.json()["outlet_id"] == outlet_id

    gone = as_manager.patch(f"{BASE}/outlet/{outlet_id}", {"is_active": False}, format="json")
    assert gone.status_code == 200 and gone.json()["is_active"] is False
    assert not Device.objects.get(id=device.json()["id"]).is_active

    listed = as_manager.get(f"{BASE}/outlet").json()["results"]
    mine = [r for r in listed if r["id"] == outlet_id]
    assert mine == [{"id": outlet_id, "name": "Quay", "is_active": False}]
    assert listed[0]["is_active"] is True  # the seeded outlet, active, comes first
    actions = list(
        AuditEntry.objects.filter(object_id=outlet_id)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["outlet.create", "outlet.rename", "outlet.deactivate"]


def test_viewer_reads_but_cannot_write(staff):
    as_viewer = signed_in(staff.viewer)
    assert as_viewer.get(f"{BASE}/outlet").status_code == 200
    refused = as_viewer.post(f"{BASE}/outlet", {"name": "Nope"}, format="json")
    assert refused.status_code == 403
    assert refused["Content-Type"].startswith("application/problem+json")
    outlet = staff.merchant.outlets.first()
    patched = as_viewer.patch(f"{BASE}/outlet/{outlet.id}", {"name": "X"}, format="json")
    assert patched.status_code == 403
    assert Outlet.objects.get(id=outlet.id).name == outlet.name


def test_tenant_isolation_and_bad_input_are_problems(staff, other_staff, as_owner):
    foreign = other_staff.merchant.outlets.get()
    assert all(r["id"] != str(foreign.id) for r in as_owner.get(f"{BASE}/outlet").json()["results"])
    cases = [
        as_owner.patch(f"{BASE}/outlet/{foreign.id}", {"name": "Mine"}, format="json"),
        as_owner.get(f"{BASE}/planet"),
        as_owner.post(f"{BASE}/outlet", {"name": ""}, format="json"),
        as_owner.post(f"{BASE}/outlet", {"name": "A", "colour": "red"}, format="json"),
        as_owner.post(f"{BASE}/device", {"name": "Till"}, format="json"),
        as_owner.post(
            f"{BASE}/device", {"name": "Till", "outlet_id": str(foreign.id)}, format="json"
        ),
        as_owner.patch(f"{BASE}/outlet/{foreign.id}", {}, format="json"),
        as_owner.patch(f"{BASE}/outlet/{foreign.id}", {"is_active": True}, format="json"),
        as_owner.patch(
            f"{BASE}/outlet/{staff.merchant.outlets.first().id}",
            {"is_active": "yes!"},
            format="json",
        ),
    ]
    assert [c.status_code for c in cases] == [404, 404, 400, 400, 400, 400, 400, 404, 400]
    for c in cases:
        assert c["Content-Type"].startswith("application/problem+json"), c.content
    assert Outlet.objects.get(id=foreign.id).name == foreign.name


def test_reactivate_through_patch_outlet_without_devices_and_audited(staff, as_manager, as_viewer):
    outlet = as_manager.post(f"{BASE}/outlet", {"name": "Pier"}, format="json").json()
    device = as_manager.post(
        f"{BASE}/device", {"name": "Till", "outlet_id": outlet["id"]}, format="json"
    ).json()
    as_manager.patch(f"{BASE}/outlet/{outlet['id']}", {"is_active": False}, format="json")

    early = as_manager.patch(f"{BASE}/device/{device['id']}", {"is_active": True}, format="json")
    assert early.status_code == 400
    assert early["Content-Type"].startswith("application/problem+json")
    assert "reactivate the outlet first" in early.json()["detail"]
    assert (
        as_viewer.patch(
            f"{BASE}/outlet/{outlet['id']}", {"is_active": True}, format="json"
        ).status_code
        == 403
    )
    assert not Outlet.objects.get(id=outlet["id"]).is_active

    back = as_manager.patch(f"{BASE}/outlet/{outlet['id']}", {"is_active": True}, format="json")
    assert back.status_code == 200 and back.json()["is_active"] is True
    assert not Device.objects.get(id=device["id"]).is_active
    till = as_manager.patch(f"{BASE}/device/{device['id']}", {"is_active": True}, format="json")
    assert till.status_code == 200 and till.json()["is_active"] is True
    audit = AuditEntry.objects.filter(action__endswith=".reactivate").order_by("id")
    assert [(a.action, a.object_id, a.user_id) for a in audit] == [
        ("outlet.reactivate", outlet["id"], staff.manager.id),
        ("device.reactivate", device["id"], staff.manager.id),
    ]
