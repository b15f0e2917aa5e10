"""Portal sign-in with JWTs (PyJWT): short-lived access tokens, rotating refresh tokens.

* A login opens a :class:`~portal.models.PortalSession`; its refresh tokens (30 days) are
  recorded by ``jti`` and rotate on every refresh. Access tokens (15 min) name the session
  (``sid``) and are checked against it on every request (one indexed query with the user and
  merchant), so they stop working at once when the session ends, the member of staff is
  deactivated or the merchant is deactivated.
* Logout revokes the session: its refresh tokens *and* its access tokens stop working at once.
* Reuse detection (OAuth 2.0 Security BCP, refresh-token rotation): a refresh token that was
  already rotated coming back means two parties hold it; the whole session (family) is revoked,
  so the successor a thief may hold stops working too.
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

from portal.errors import AuthenticationFailed
from portal.metrics import PORTAL_AUTH_LOGIN as LOGINS
from portal.metrics import PORTAL_AUTH_REFRESH as REFRESHES
from portal.models import PortalSession, RefreshToken, StaffUser
from portal.services.audit import audit_record
from portal.services.throttle import (
    login_failure_record,
    login_success_record,
    login_throttle_check,
)

ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=30)
_ALGORITHM = "HS256"
#: A valid hash of no password: unknown emails still cost one PBKDF2 run, so timing does not
#: reveal who exists.
_DUMMY_HASH = make_password(None)

__all__ = ["AuthenticationFailed"]


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    expires_in: int
    user: StaffUser

    def as_dict(self) -> dict[str, Any]:
        return {
            "access": self.access,
            "refresh": self.refresh,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }


def _key(secret: str | None = None) -> str:
    return f"portal-jwt:{secret or settings.SECRET_KEY}"


def _verifying_keys() -> list[str]:
    """Tokens are signed with ``SECRET_KEY`` and accepted under it or any of
    ``SECRET_KEY_FALLBACKS`` (as Django's own signing is), so rotating the key signs nobody out
    while the old one stays listed; emptying the fallbacks ends what the old key signed."""
    return [_key(), *(_key(old) for old in settings.SECRET_KEY_FALLBACKS)]


def _issue(user: StaffUser, session: PortalSession) -> TokenPair:
    now = timezone.now()
    jti = uuid.uuid4()
    RefreshToken.objects.create(jti=jti, user=user, session=session, expires_at=now + REFRESH_TTL)
    base = {
        "sub": str(user.id),
        "mid": str(user.merchant_id),
        "sid": str(session.id),
        "iat": int(now.timestamp()),
    }
    access = jwt.encode(
        {**base, "typ": "access", "exp": now + ACCESS_TTL}, _key(), algorithm=_ALGORITHM
    )
    refresh = jwt.encode(
        {**base, "typ": "refresh", "jti": str(jti), "exp": now + REFRESH_TTL},
        _key(),
        algorithm=_ALGORITHM,
    )
    return TokenPair(
        access=access, refresh=refresh, expires_in=int(ACCESS_TTL.total_seconds()), user=user
    )


def portal_login(*, email: str, password: str, address: str | None = None) -> TokenPair:
    """Check the password (after the throttle) and open a session."""
    email = email.strip().lower()
    login_throttle_check(email=email, address=address)
    user = StaffUser.objects.select_related("merchant").filter(email=email).first()
    ok = check_password(password, user.password_hash if user else _DUMMY_HASH)
    if not ok or user is None or not user.is_active or not user.merchant.is_active:
        login_failure_record(email=email, address=address)
        LOGINS.labels("failed").inc()
        raise AuthenticationFailed("Wrong email or password.")
    login_success_record(email=email)
    with transaction.atomic():
        StaffUser.objects.filter(id=user.id).update(last_login_at=timezone.now())
        session = PortalSession.objects.create(user=user)
        pair = _issue(user, session)
        audit_record(
            user=user,
            action="auth.login",
            object_type="session",
            object_id=session.id,
            address=address,
        )
    LOGINS.labels("ok").inc()
    return pair


def _decode(token: str, typ: str) -> dict[str, Any]:
    claims: dict[str, Any] | None = None
    for key in _verifying_keys():
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[_ALGORITHM],
                options={"require": ["exp", "sub", "typ", "sid"]},
            )
            break
        except jwt.InvalidSignatureError:
            continue  # perhaps signed with a key now in the fallbacks
        except jwt.PyJWTError:
            break
    if claims is None:
        raise AuthenticationFailed("The token is invalid or expired; sign in again.")
    if claims.get("typ") != typ:
        raise AuthenticationFailed(f"Send a {typ} token.")
    try:
        uuid.UUID(str(claims["sid"]))
        uuid.UUID(str(claims["sub"]))
        if typ == "refresh":
            uuid.UUID(str(claims.get("jti")))
    except ValueError:
        raise AuthenticationFailed("The token is invalid; sign in again.") from None
    return claims


def _session_revoke(session_id: Any, *, reason: str) -> None:
    now = timezone.now()
    PortalSession.objects.filter(id=session_id, revoked_at=None).update(
        revoked_at=now, revoked_reason=reason
    )
    RefreshToken.objects.filter(session_id=session_id, revoked_at=None).update(revoked_at=now)


def portal_refresh(*, refresh: str) -> TokenPair:
    """Rotate: the presented refresh token is revoked and a new pair is issued in its session.

    A token that was already rotated revokes its whole session (reuse detection).
    """
    claims = _decode(refresh, "refresh")
    now = timezone.now()
    reused = False
    with transaction.atomic():
        token = (
            RefreshToken.objects.select_for_update(of=("self",))
            .select_related("session", "user__merchant")
            .filter(jti=claims["jti"], session_id=claims["sid"])
            .first()
        )
        if token is None or token.expires_at <= now or token.session is None:
            REFRESHES.labels("failed").inc()
            raise AuthenticationFailed("The refresh token is unknown or expired; sign in again.")
        if token.revoked_at is not None:
            reused = token.session.revoked_at is None
            _session_revoke(token.session_id, reason="reuse")
            if reused:
                audit_record(
                    user=token.user,
                    action="auth.refresh_reuse",
                    object_type="session",
                    object_id=token.session_id,
                )
        else:
            user = token.user
            if token.session.revoked_at is not None:
                REFRESHES.labels("failed").inc()
                raise AuthenticationFailed("This session has ended; sign in again.")
            if not user.is_active or not user.merchant.is_active:
                REFRESHES.labels("failed").inc()
                raise AuthenticationFailed("This account is disabled.")
            RefreshToken.objects.filter(jti=token.jti).update(revoked_at=now)
            pair = _issue(user, token.session)
    if token.revoked_at is not None:
        # Raised after the commit, so that the family's revocation stays.
        REFRESHES.labels("reuse" if reused else "failed").inc()
        raise AuthenticationFailed(
            "The refresh token was already used or revoked; the session has ended, sign in again."
        )
    REFRESHES.labels("ok").inc()
    return pair


def portal_logout(*, refresh: str) -> None:
    """End the session of ``refresh``: its refresh and access tokens stop working at once."""
    claims = _decode(refresh, "refresh")
    with transaction.atomic():
        session = (
            PortalSession.objects.select_related("user")
            .filter(id=claims["sid"], user_id=claims["sub"], revoked_at=None)
            .first()
        )
        if session is not None:
            _session_revoke(session.id, reason="logout")
            audit_record(
                user=session.user, action="auth.logout", object_type="session", object_id=session.id
            )


def staff_from_access(token: str) -> StaffUser:
    """The member of staff an access token stands for, while its session, the account and the
    merchant are all still active."""
    claims = _decode(token, "access")
    session = (
        PortalSession.objects.select_related("user__merchant")
        .filter(
            id=claims["sid"],
            user_id=claims["sub"],
            revoked_at=None,
            user__is_active=True,
            user__merchant__is_active=True,
        )
        .first()
    )
    if session is None:
        raise AuthenticationFailed("This session has ended or the account is disabled.")
    session.user.session_id = session.id  # type: ignore[attr-defined]
    return session.user
