"""Errors of the merchant portal; each becomes a problem+json answer."""

from __future__ import annotations

from core.errors import ApplicationError


class AuthenticationFailed(ApplicationError):
    """Wrong credentials, or a token that is invalid, expired or revoked."""

    status = 401
    slug = "unauthenticated"
    title = "Authentication failed"


class Forbidden(ApplicationError):
    """The signed-in member of staff's role does not allow this action."""

    status = 403
    slug = "forbidden"
    title = "Not allowed for your role"


class LoginThrottled(ApplicationError):
    """Too many failed sign-ins for this account or from this address; wait ``retry_after``."""

    status = 429
    slug = "rate-limited"
    title = "Too many sign-in attempts"

    def __init__(self, detail: str, *, retry_after: int, scope: str) -> None:
        super().__init__(detail, extra={"retry_after": retry_after})
        #: Seconds until the next attempt is allowed (sent as ``Retry-After``).
        self.retry_after = retry_after
        self.scope = scope
