"""Staff management and roles: owners manage staff, managers and viewers cannot; another
merchant's staff are 404; every change leaves an audit row."""

from __future__ import annotations

import pytest

from portal.models import AuditEntry, StaffUser

pytestmark = pytest.mark.django_db

NEW = {"email": "new@cafe.test", "password": "long enough pw", "role": "viewer"}


def test_owner_adds_and_deactivates_staff_with_audit(staff, as_owner):
    created = as_owner.post("/api/portal/v1/staff", NEW, format="json")
    assert created.status_code == 201 and created.json()["role"] == "viewer"
    listed = as_owner.get("/api/portal/v1/staff").json()["results"]
    assert {row["email"] for row in listed} >= {"new@cafe.test", staff.owner.email}
    staff_id = created.json()["id"]
    changed = as_owner.patch(
        f"/api/portal/v1/staff/{staff_id}", {"role": "manager", "is_active": False}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["role"] == "manager" and changed.json()["is_active"] is False
    actions = list(
        AuditEntry.objects.filter(merchant=staff.merchant, object_id=staff_id)
        .order_by("id")
        .values_list("action", "actor")
    )
    assert actions == [("staff.create", staff.owner.email), ("staff.update", staff.owner.email)]
    audit = as_owner.get("/api/portal/v1/audit").json()["results"]
    assert audit[0]["action"] == "staff.update" and audit[0]["detail"]["is_active"] is False


@pytest.mark.parametrize("client_fixture", ["as_manager", "as_viewer"])
def test_only_owners_manage_staff(request, staff, client_fixture):
    client = request.getfixturevalue(client_fixture)
    refused = client.post("/api/portal/v1/staff", NEW, format="json")
    assert refused.status_code == 403 and refused["Content-Type"] == "application/problem+json"
    assert not StaffUser.objects.filter(email=NEW["email"]).exists()
    assert (
        client.patch(
            f"/api/portal/v1/staff/{staff.owner.id}", {"is_active": False}, format="json"
        ).status_code
        == 403
    )
    assert client.get("/api/portal/v1/staff").status_code == 200  # reading is allowed


def test_another_merchants_staff_are_not_found(staff, other_staff, as_owner):
    response = as_owner.patch(
        f"/api/portal/v1/staff/{other_staff.viewer.id}", {"is_active": False}, format="json"
    )
    assert response.status_code == 404
    other_staff.viewer.refresh_from_db()
    assert other_staff.viewer.is_active
    emails = {row["email"] for row in as_owner.get("/api/portal/v1/staff").json()["results"]}
    assert other_staff.viewer.email not in emails
    assert not as_owner.get("/api/portal/v1/audit").json()["results"] or all(
        row["actor"].endswith("@cafe.test") and not row["actor"].startswith("other-")
        for row in as_owner.get("/api/portal/v1/audit").json()["results"]
    )


def test_bad_staff_input_is_a_clear_400(as_owner):
    bad = as_owner.post("/api/portal/v1/staff", {**NEW, "role": "god"}, format="json")
    assert bad.status_code == 400 and "role" in bad.json()["errors"]
    short = as_owner.post("/api/portal/v1/staff", {**NEW, "password": "short"}, format="json")
    assert short.status_code == 400 and "password" in short.json()["errors"]
    assert as_owner.get("/api/portal/v1/audit?cursor=abc").status_code == 400
    assert not StaffUser.objects.filter(email=NEW["email"]).exists()


def test_owner_cannot_lock_themselves_out(staff, as_owner):
    response = as_owner.patch(
        f"/api/portal/v1/staff/{staff.owner.id}", {"is_active": False}, format="json"
    )
    assert response.status_code == 409
