"""Integration API keys: create, rotate with an overlap, revoke."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.openapi import problems
from portal.apis.base import PortalApi, Strict
from portal.services import (
    OWNERS,
)
from portal.services.api_keys import (
    api_key_list,
    portal_api_key_create,
    portal_api_key_revoke,
    portal_api_key_rotate,
)


def api_key_out(key: Any) -> dict[str, Any]:
    return {
        "id": str(key.id),
        "name": key.name,
        "prefix": key.prefix,
        "scopes": key.scopes,
        "created_at": key.created_at.isoformat(),
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


class ApiKeyIn(Strict):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=["read", "write"]), min_length=1
    )


class PortalApiKeyListApi(PortalApi):
    write_roles = OWNERS

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, **problems()},
        tags=["portal"],
        description="The merchant's integration API keys (never their secrets).",
    )
    def get(self, request: Request) -> Response:
        return Response(
            {"results": [api_key_out(k) for k in api_key_list(merchant_id=self.staff.merchant_id)]}
        )

    @extend_schema(
        request=ApiKeyIn,
        responses={201: OpenApiTypes.OBJECT, **problems()},
        tags=["portal"],
        description="Owners only: a new key; `key` (the secret) "
        "is in this answer only, stored hashed.",
    )
    def post(self, request: Request) -> Response:
        data = ApiKeyIn(data=request.data)
        data.is_valid(raise_exception=True)
        issued = portal_api_key_create(by=self.staff, **data.validated_data)
        return Response({**api_key_out(issued.api_key), "key": issued.plaintext}, status=201)


class RotateIn(Strict):
    overlap_hours = serializers.IntegerField(min_value=0, max_value=168, required=False, default=24)


class PortalApiKeyRotateApi(PortalApi):
    write_roles = OWNERS

    @extend_schema(
        request=RotateIn,
        responses={201: OpenApiTypes.OBJECT, **problems(404)},
        tags=["portal"],
        description="Owners only: a successor key (shown once); "
        "the old key keeps working for the overlap, then stops.",
    )
    def post(self, request: Request, key_id: uuid.UUID) -> Response:
        data = RotateIn(data=request.data)
        data.is_valid(raise_exception=True)
        issued = portal_api_key_rotate(by=self.staff, key_id=key_id, **data.validated_data)
        return Response({**api_key_out(issued.api_key), "key": issued.plaintext}, status=201)


class PortalApiKeyRevokeApi(PortalApi):
    write_roles = OWNERS

    @extend_schema(
        request=None,
        responses={200: OpenApiTypes.OBJECT, **problems(404)},
        tags=["portal"],
        description="Owners only: the key stops working at once.",
    )
    def post(self, request: Request, key_id: uuid.UUID) -> Response:
        return Response(api_key_out(portal_api_key_revoke(by=self.staff, key_id=key_id)))


# --- program settings ------------------------------------------------------------------------
