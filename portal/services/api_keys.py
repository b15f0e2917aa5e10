"""The merchant's integration API keys, managed by owners through ``integrations.services``
(the one portal → integrations arrow, allowed in tests/test_layers.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction

from core.errors import NotFound, ValidationFailed
from integrations.models import ApiKey
from integrations.services import SCOPES, IssuedKey, api_key_issue, api_key_revoke, api_key_rotate
from portal.models import StaffUser
from portal.services.audit import audit_record
from portal.services.staff import OWNERS, staff_role_require

#: The longest overlap a rotation may give the old key.
MAX_OVERLAP = timedelta(days=7)


def api_key_list(*, merchant_id: Any) -> list[ApiKey]:
    return list(ApiKey.objects.filter(merchant_id=merchant_id).order_by("-created_at")[:200])


def _key_of(by: StaffUser, key_id: Any) -> ApiKey:
    key = (
        ApiKey.objects.select_related("merchant")
        .filter(merchant_id=by.merchant_id, id=key_id)
        .first()
    )
    if key is None:
        raise NotFound(f"No API key {key_id} for this merchant.")
    return key


def portal_api_key_create(*, by: StaffUser, name: str, scopes: list[str]) -> IssuedKey:
    """A new key; its plaintext is in this answer only."""
    staff_role_require(by, OWNERS)
    name = name.strip()[:100]
    wrong = sorted(set(scopes) - set(SCOPES))
    if not name or wrong or not scopes:
        raise ValidationFailed(
            "Give the key a name and some of the scopes read, write.",
            errors={"name": ["Required."]}
            if not name
            else {"scopes": [f"Use some of: {', '.join(SCOPES)}."]},
        )
    with transaction.atomic():
        issued = api_key_issue(
            merchant=by.merchant, name=name, scopes=tuple(s for s in SCOPES if s in scopes)
        )
        audit_record(
            user=by,
            action="api_key.create",
            object_type="api_key",
            object_id=issued.api_key.id,
            detail={"name": name, "scopes": issued.api_key.scopes, "prefix": issued.api_key.prefix},
        )
    return issued


def portal_api_key_rotate(*, by: StaffUser, key_id: Any, overlap_hours: int = 24) -> IssuedKey:
    """A successor key; the old one keeps working for ``overlap_hours`` (0 to 168)."""
    staff_role_require(by, OWNERS)
    overlap = timedelta(hours=overlap_hours)
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        raise ValidationFailed(
            "overlap_hours must be 0 to 168.", errors={"overlap_hours": ["0 to 168."]}
        )
    with transaction.atomic():
        key = _key_of(by, key_id)
        if key.revoked_at is not None:
            raise ValidationFailed("This key is revoked; create a new one.")
        issued = api_key_rotate(api_key=key, overlap=overlap)
        audit_record(
            user=by,
            action="api_key.rotate",
            object_type="api_key",
            object_id=key.id,
            detail={"successor": str(issued.api_key.id), "overlap_hours": overlap_hours},
        )
    return issued


def portal_api_key_revoke(*, by: StaffUser, key_id: Any) -> ApiKey:
    staff_role_require(by, OWNERS)
    with transaction.atomic():
        key = api_key_revoke(api_key=_key_of(by, key_id))
        audit_record(user=by, action="api_key.revoke", object_type="api_key", object_id=key.id)
    return key
