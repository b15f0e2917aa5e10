"""Portal sign-in with JWTs (PyJWT): short-lived access tokens, rotating refresh tokens.

Access tokens (15 min) are stateless; refresh tokens (30 days) are recorded by ``jti`` so that
logout and rotation revoke them, and a reused (already rotated) refresh token is refused.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError, Conflict, ValidationFailed
from loyalty.models import Merchant
from portal.metrics import PORTAL_AUTH_LOGIN as LOGINS
from portal.metrics import PORTAL_AUTH_REFRESH as REFRESHES
from portal.models import RefreshToken, StaffUser

ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=30)
_ALGORITHM = "HS256"


class AuthenticationFailed(ApplicationError):
    """Wrong credentials, or a token that is invalid, expired or revoked."""

    status = 401
    slug = "unauthenticated"
    title = "Authentication failed"


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    expires_in: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "access": self.access,
            "refresh": self.refresh,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }


def _key() -> str:
    return f"portal-jwt:{settings.SECRET_KEY}"


def staff_user_create(*, merchant: Merchant, email: str, password: str) -> StaffUser:
    email = email.strip().lower()
    if len(password) < 10:
        raise ValidationFailed(
            "The password is too short.", errors={"password": ["Use at least 10 characters."]}
        )
    if StaffUser.objects.filter(email=email).exists():
        raise Conflict(f"{email} already has portal access.")
    return StaffUser.objects.create(
        merchant=merchant, email=email, password_hash=make_password(password)
    )


def _issue(user: StaffUser) -> TokenPair:
    now = timezone.now()
    jti = uuid.uuid4()
    RefreshToken.objects.create(jti=jti, user=user, expires_at=now + REFRESH_TTL)
    base = {"sub": str(user.id), "mid": str(user.merchant_id), "iat": int(now.timestamp())}
    access = jwt.encode(
        {**base, "typ": "access", "exp": now + ACCESS_TTL}, _key(), algorithm=_ALGORITHM
    )
    refresh = jwt.encode(
        {**base, "typ": "refresh", "jti": str(jti), "exp": now + REFRESH_TTL},
        _key(),
        algorithm=_ALGORITHM,
    )
    return TokenPair(access=access, refresh=refresh, expires_in=int(ACCESS_TTL.total_seconds()))


def portal_login(*, email: str, password: str) -> TokenPair:
    user = StaffUser.objects.select_related("merchant").filter(email=email.strip().lower()).first()
    # check_password runs even for unknown users so timing does not reveal who exists.
    ok = check_password(password, user.password_hash if user else make_password(None))
    if not ok or user is None or not user.is_active or not user.merchant.is_active:
        LOGINS.labels("failed").inc()
        raise AuthenticationFailed("Wrong email or password.")
    StaffUser.objects.filter(id=user.id).update(last_login_at=timezone.now())
    LOGINS.labels("ok").inc()
    return _issue(user)


def _decode(token: str, typ: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(
            token, _key(), algorithms=[_ALGORITHM], options={"require": ["exp", "sub", "typ"]}
        )
    except jwt.PyJWTError:
        raise AuthenticationFailed("The token is invalid or expired; sign in again.") from None
    if claims.get("typ") != typ:
        raise AuthenticationFailed(f"Send a {typ} token.")
    return claims


def portal_refresh(*, refresh: str) -> TokenPair:
    """Rotate: the presented refresh token is revoked and a new pair is issued."""
    claims = _decode(refresh, "refresh")
    with transaction.atomic():
        revoked = RefreshToken.objects.filter(
            jti=str(claims.get("jti")), revoked_at=None, expires_at__gt=timezone.now()
        ).update(revoked_at=timezone.now())
        if not revoked:
            REFRESHES.labels("failed").inc()
            raise AuthenticationFailed(
                "The refresh token was already used or revoked; sign in again."
            )
        user = StaffUser.objects.get(id=claims["sub"])
        if not user.is_active:
            REFRESHES.labels("failed").inc()
            raise AuthenticationFailed("This account is disabled.")
        pair = _issue(user)
    REFRESHES.labels("ok").inc()
    return pair


def portal_logout(*, refresh: str) -> None:
    claims = _decode(refresh, "refresh")
    RefreshToken.objects.filter(jti=str(claims.get("jti")), revoked_at=None).update(
        revoked_at=timezone.now()
    )


def staff_from_access(token: str) -> StaffUser:
    claims = _decode(token, "access")
    user = (
        StaffUser.objects.select_related("merchant")
        .filter(id=claims["sub"], is_active=True)
        .first()
    )
    if user is None:
        raise AuthenticationFailed("This account is disabled.")
    return user
