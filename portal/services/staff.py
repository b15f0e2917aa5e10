"""Merchant staff: creating sign-ins, roles, deactivation, password change."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone

from core.errors import Conflict, NotFound, ValidationFailed
from loyalty.models import Merchant
from portal.errors import Forbidden
from portal.models import PortalSession, RefreshToken, StaffRole, StaffUser
from portal.services.audit import audit_record

#: Roles that may change the merchant's data; viewers only read.
WRITERS = (StaffRole.OWNER, StaffRole.MANAGER)
#: Roles that may manage staff and API keys.
OWNERS = (StaffRole.OWNER,)


def staff_role_require(user: StaffUser, roles: tuple[str, ...]) -> None:
    """Raise :class:`Forbidden` unless ``user`` holds one of ``roles``."""
    if user.role not in roles:
        names = " or ".join(str(StaffRole(r).label).lower() for r in roles)
        raise Forbidden(f"Your role ({user.role}) cannot do this; ask an {names}.")


def _password_check(password: str) -> None:
    if len(password) < 10:
        raise ValidationFailed(
            "The password is too short.", errors={"password": ["Use at least 10 characters."]}
        )


def staff_user_create(
    *,
    merchant: Merchant,
    email: str,
    password: str,
    role: str = StaffRole.OWNER,
    by: StaffUser | None = None,
) -> StaffUser:
    """Give ``email`` portal access to ``merchant`` with ``role`` (``by``: the owner doing it)."""
    email = email.strip().lower()
    if role not in StaffRole.values:
        raise ValidationFailed(
            f"Unknown role {role!r}.",
            errors={"role": [f"Use one of {', '.join(StaffRole.values)}."]},
        )
    _password_check(password)
    if by is not None:
        staff_role_require(by, OWNERS)
    with transaction.atomic():
        if StaffUser.objects.filter(email=email).exists():
            raise Conflict(f"{email} already has portal access.")
        user = StaffUser.objects.create(
            merchant=merchant, email=email, password_hash=make_password(password), role=role
        )
        if by is not None:
            audit_record(
                user=by,
                action="staff.create",
                object_type="staff",
                object_id=user.id,
                detail={"email": email, "role": role},
            )
    return user


def _staff_of(by: StaffUser, staff_id: Any) -> StaffUser:
    user = StaffUser.objects.filter(merchant_id=by.merchant_id, id=staff_id).first()
    if user is None:
        raise NotFound(f"No member of staff {staff_id}.")
    return user


def staff_user_update(
    *, by: StaffUser, staff_id: Any, role: str | None = None, is_active: bool | None = None
) -> StaffUser:
    """Change a colleague's role or (de)activate them; deactivation ends their sessions."""
    staff_role_require(by, OWNERS)
    if role is not None and role not in StaffRole.values:
        raise ValidationFailed(
            f"Unknown role {role!r}.",
            errors={"role": [f"Use one of {', '.join(StaffRole.values)}."]},
        )
    with transaction.atomic():
        user = _staff_of(by, staff_id)
        if user.id == by.id:
            raise Conflict("You cannot change your own role or deactivate yourself.")
        changes: dict[str, object] = {}
        if role is not None and role != user.role:
            changes["role"] = role
        if is_active is not None and is_active != user.is_active:
            changes["is_active"] = is_active
        if changes:
            StaffUser.objects.filter(id=user.id).update(**changes)
            if changes.get("is_active") is False:
                _sessions_end(user, reason="deactivated")
            audit_record(
                user=by,
                action="staff.update",
                object_type="staff",
                object_id=user.id,
                detail=changes,
            )
        user.refresh_from_db()
    return user


def _sessions_end(user: StaffUser, *, reason: str, keep: Any = None) -> None:
    now = timezone.now()
    sessions = PortalSession.objects.filter(user=user, revoked_at=None).exclude(id=keep)
    RefreshToken.objects.filter(session__in=sessions, revoked_at=None).update(revoked_at=now)
    sessions.update(revoked_at=now, revoked_reason=reason)


def staff_password_change(*, user: StaffUser, current: str, new: str) -> None:
    """Change one's own password; every other session of the account ends."""
    if not check_password(current, user.password_hash):
        raise ValidationFailed(
            "The current password is wrong.", errors={"current_password": ["Wrong password."]}
        )
    _password_check(new)
    with transaction.atomic():
        StaffUser.objects.filter(id=user.id).update(password_hash=make_password(new))
        _sessions_end(user, reason="password", keep=getattr(user, "session_id", None))
        audit_record(
            user=user, action="staff.password_change", object_type="staff", object_id=user.id
        )
