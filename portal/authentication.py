"""How portal API calls prove who they are: ``Authorization: Bearer <access token>``.

The API takes the access token in the header only, never from a cookie, so a cross-site page
cannot make a signed-in browser call it (no CSRF exposure); the portal's pages use cookies and
Django's CSRF protection instead (:mod:`portal.views`).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from portal.errors import AuthenticationFailed
from portal.models import StaffUser
from portal.services import WRITERS, staff_from_access, staff_role_require


def client_address(request: Any) -> str | None:
    """The peer address. Behind a proxy, have the proxy set REMOTE_ADDR (X-Forwarded-For is
    not trusted: anyone can send it, and the sign-in throttle must not be dodged with it)."""
    return request.META.get("REMOTE_ADDR") or None


class PortalAccessAuthentication(BaseAuthentication):
    """The staff member behind a portal access token (401 problem when absent or invalid);
    declared in the OpenAPI schema as the ``PortalAccessToken`` scheme."""

    def authenticate(self, request: Request) -> tuple[StaffUser, str] | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        token = header.removeprefix("Bearer ").strip()
        return staff_from_access(token), token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="portal"'


class IsPortalStaff(BasePermission):
    """Signed in; writes (anything but GET/HEAD/OPTIONS) need the owner or manager role."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not isinstance(request.user, StaffUser):
            raise AuthenticationFailed(
                "Send Authorization: Bearer <access token> from /api/portal/v1/auth/login."
            )
        if request.method not in SAFE_METHODS:
            staff_role_require(request.user, getattr(view, "write_roles", WRITERS))
        return True


class PortalAccessScheme(OpenApiAuthenticationExtension):
    """The portal's bearer access token, as the OpenAPI schema declares it."""

    target_class = PortalAccessAuthentication
    name = "PortalAccessToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "The access token from POST /api/portal/v1/auth/login (15 minutes); "
            "renew it with /auth/refresh.",
        }
