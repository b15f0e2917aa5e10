"""Places: outlets, devices and managers (create, rename, deactivate, reactivate)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import NotFound, ValidationFailed
from core.openapi import problems
from loyalty.models import Outlet
from loyalty.services.places import PLACE_KINDS
from portal.apis.base import PortalApi, Strict
from portal.authentication import client_address
from portal.selectors import (
    place_list,
)
from portal.services import (
    portal_place_create,
    portal_place_deactivate,
    portal_place_reactivate,
    portal_place_rename,
)

PLACE_KIND_PARAM = OpenApiParameter(
    "kind", str, OpenApiParameter.PATH, enum=["outlet", "device", "manager"]
)


def place_out(row: Any) -> dict[str, Any]:
    out = {"id": str(row.id), "name": row.name, "is_active": row.is_active}
    if not isinstance(row, Outlet):
        out["outlet_id"] = str(row.outlet_id) if row.outlet_id else None
    return out


def place_kind(kind: str) -> str:
    if kind not in PLACE_KINDS:
        raise NotFound(f"No place kind {kind!r}: use outlet, device or manager.")
    return kind


class PlaceOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    is_active = serializers.BooleanField()
    outlet_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Devices and managers only."
    )


class PlaceListOut(serializers.Serializer):
    results = PlaceOut(many=True)
    next = serializers.CharField(allow_null=True)


class PlaceCreateIn(Strict):
    name = serializers.CharField(max_length=200)
    outlet_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="A device needs its outlet; a manager may."
    )


class PlaceUpdateIn(Strict):
    name = serializers.CharField(max_length=200, required=False)
    is_active = serializers.BooleanField(
        required=False,
        help_text="false: deactivate (no new purchases); true: reactivate (an outlet comes "
        "back without its devices; a device only while its outlet is active).",
    )


class PortalPlaceListApi(PortalApi):
    @extend_schema(
        parameters=[PLACE_KIND_PARAM],
        responses={200: PlaceListOut, **problems(404)},
        tags=["portal"],
        description="The merchant's outlets, devices or managers, active ones first.",
    )
    def get(self, request: Request, kind: str) -> Response:
        rows = place_list(merchant_id=self.staff.merchant_id, kind=place_kind(kind))
        return Response({"results": rows, "next": None})

    @extend_schema(
        parameters=[PLACE_KIND_PARAM],
        request=PlaceCreateIn,
        responses={201: PlaceOut, **problems(404)},
        tags=["portal"],
        description="Owners and managers: add an outlet, a device (at one of your outlets) or "
        "a manager.",
    )
    def post(self, request: Request, kind: str) -> Response:
        place_kind(kind)
        data = PlaceCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        row = portal_place_create(
            by=self.staff, kind=kind, address=client_address(request), **data.validated_data
        )
        return Response(place_out(row), status=201)


class PortalPlaceUpdateApi(PortalApi):
    @extend_schema(
        parameters=[PLACE_KIND_PARAM],
        request=PlaceUpdateIn,
        responses={200: PlaceOut, **problems(404)},
        tags=["portal"],
        description="Owners and managers: rename a place (``name``), deactivate it "
        "(``is_active: false``; it stays in history but takes no new purchases) or reactivate "
        "it (``is_active: true``; an outlet's devices stay deactivated, and a device of a "
        "deactivated outlet is refused with 400).",
    )
    def patch(self, request: Request, kind: str, place_id: uuid.UUID) -> Response:
        place_kind(kind)
        data = PlaceUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        if not fields:
            msg = "Send name or is_active."
            raise ValidationFailed(msg, errors={"name": [msg]})
        address = client_address(request)
        with transaction.atomic():
            row = self._apply(kind, place_id, fields, address)
        return Response(place_out(row))

    def _apply(
        self, kind: str, place_id: uuid.UUID, fields: dict[str, Any], address: str | None
    ) -> Any:
        row: Any = None
        if "name" in fields:
            row = portal_place_rename(
                by=self.staff, kind=kind, place_id=place_id, name=fields["name"], address=address
            )
        if fields.get("is_active") is False:
            row = portal_place_deactivate(
                by=self.staff, kind=kind, place_id=place_id, address=address
            )
        if fields.get("is_active") is True:
            row = portal_place_reactivate(
                by=self.staff, kind=kind, place_id=place_id, address=address
            )
        return row
