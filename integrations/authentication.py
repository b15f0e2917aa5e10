"""Who calls the integration API: a merchant's API key, and what its scopes allow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from integrations.models import ApiKey
from integrations.services import api_key_authenticate
from loyalty.models import Merchant

_HOW = "Send your key as `Authorization: Bearer lk_...` or in the `X-Api-Key` header."


@dataclass(frozen=True)
class MerchantClient:
    """``request.user`` of the integration API: the merchant behind the key in ``request.auth``."""

    api_key: ApiKey
    is_authenticated: bool = True

    @property
    def merchant(self) -> Merchant:
        return self.api_key.merchant


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer <key>`` (preferred) or ``X-Api-Key: <key>``."""

    def authenticate(self, request: Request) -> tuple[MerchantClient, ApiKey] | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            token = request.headers.get("X-Api-Key", "")
            if not token.strip():
                if header:
                    raise AuthenticationFailed(f"Only Bearer authorization is accepted. {_HOW}")
                return None  # no credentials: the permission answers 401
        key = api_key_authenticate(token.strip())
        if key is None:
            raise AuthenticationFailed(
                "The API key is unknown, revoked or expired. Check that the whole key was copied, "
                "or create a new one in the portal."
            )
        return MerchantClient(api_key=key), key

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) when credentials are missing or wrong.
        return 'Bearer realm="integrations"'


class HasKeyScope(BasePermission):
    """Reads (GET, HEAD) need the key's ``read`` scope, everything else ``write``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            raise NotAuthenticated(f"This API needs a merchant API key. {_HOW}")
        scope = "read" if request.method in SAFE_METHODS else "write"
        if scope not in key.scopes:
            raise PermissionDenied(
                f"This API key lacks the '{scope}' scope needed for {request.method}. Use a key "
                f"issued with the scopes read and write."
            )
        return True


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents both ways of sending the key as OpenAPI security schemes."""

    target_class = ApiKeyAuthentication
    name = ["BearerApiKey", "HeaderApiKey"]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        # Either scheme suffices (OR), hence a list of requirements.
        return [{"BearerApiKey": []}, {"HeaderApiKey": []}]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "lk_<prefix>_<secret>",
                "description": "The merchant's integration API key.",
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": "X-Api-Key",
                "description": "The same key in a header of its own.",
            },
        ]
