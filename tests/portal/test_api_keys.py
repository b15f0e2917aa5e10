"""Integration API keys managed from the portal (owners only) through integrations.services:
the secret shown once works against the integration API; rotation overlaps; revoke ends it."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from integrations.models import ApiKey
from portal.models import AuditEntry
from tests.portal.conftest import signed_in

pytestmark = pytest.mark.django_db


def integration_status(key: str) -> int:
    return (
        APIClient()
        .get(
            "/api/integrations/v1/customers",
            {"phone": "+79169990000"},
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
        .status_code
    )


def test_create_rotate_revoke_with_audit(staff, as_owner):
    made = as_owner.post(
        "/api/portal/v1/api-keys", {"name": "till 1", "scopes": ["read"]}, format="json"
    )
    assert made.status_code == 201
    body = made.json()
    assert body["key"].startswith("lk_") and body["scopes"] == ["read"]
    assert integration_status(body["key"]) == 404  # authenticated; no such customer
    listed = as_owner.get("/api/portal/v1/api-keys").json()["results"]
    assert "key" not in listed[0] and listed[0]["last_used_at"] is not None
    rotated = as_owner.post(
        f"/api/portal/v1/api-keys/{body['id']}/rotate", {"overlap_hours": 1}, format="json"
    ).json()
    assert integration_status(rotated["key"]) == 404
    assert integration_status(body["key"]) == 404  # still inside its overlap
    old = ApiKey.objects.get(id=body["id"])
    assert old.expires_at is not None
    revoked = as_owner.post(f"/api/portal/v1/api-keys/{body['id']}/revoke").json()
    assert revoked["revoked_at"] is not None
    assert integration_status(body["key"]) == 401
    assert integration_status(rotated["key"]) == 404
    assert list(
        AuditEntry.objects.filter(object_type="api_key")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["api_key.create", "api_key.rotate", "api_key.revoke"]


def test_only_owners_and_only_their_merchants_keys(staff, other_staff, as_owner, as_manager):
    assert (
        as_manager.post(
            "/api/portal/v1/api-keys", {"name": "x", "scopes": ["read"]}, format="json"
        ).status_code
        == 403
    )
    theirs = (
        signed_in(other_staff.owner)
        .post(
            "/api/portal/v1/api-keys",
            {"name": "theirs", "scopes": ["read", "write"]},
            format="json",
        )
        .json()
    )
    assert as_owner.post(f"/api/portal/v1/api-keys/{theirs['id']}/revoke").status_code == 404
    assert as_owner.get("/api/portal/v1/api-keys").json()["results"] == []
    assert integration_status(theirs["key"]) == 404
    assert (
        as_owner.post(
            "/api/portal/v1/api-keys", {"name": "x", "scopes": ["admin"]}, format="json"
        ).status_code
        == 400
    )
    assert (
        as_owner.post(
            f"/api/portal/v1/api-keys/{theirs['id']}/rotate", {"overlap_hours": 1000}, format="json"
        ).status_code
        == 400
    )
    assert ApiKey.objects.count() == 1
