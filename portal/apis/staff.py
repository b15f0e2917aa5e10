"""Staff: the owner adds members with a role and deactivates them."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.openapi import problems
from portal.apis.auth import StaffOut
from portal.apis.base import PortalApi, Strict
from portal.models import StaffRole
from portal.selectors import (
    staff_list,
)
from portal.services import (
    OWNERS,
    staff_user_create,
    staff_user_update,
)


class StaffListOut(serializers.Serializer):
    results = StaffOut(many=True)
    next = serializers.CharField(allow_null=True)


class StaffCreateIn(Strict):
    email = serializers.EmailField()
    password = serializers.CharField(max_length=200)
    role = serializers.ChoiceField(choices=StaffRole.choices)


class PortalStaffListApi(PortalApi):
    write_roles = OWNERS

    @extend_schema(responses={200: StaffListOut, **problems()}, tags=["portal"])
    def get(self, request: Request) -> Response:
        rows = list(staff_list(merchant_id=self.staff.merchant_id)[:500])
        return Response({"results": StaffOut(rows, many=True).data, "next": None})

    @extend_schema(
        request=StaffCreateIn,
        responses={201: StaffOut, **problems(409)},
        tags=["portal"],
        description="Owners only: give a colleague portal access with a role (viewers only "
        "read; managers change data; owners also manage staff and API keys).",
    )
    def post(self, request: Request) -> Response:
        data = StaffCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = staff_user_create(merchant=self.staff.merchant, by=self.staff, **data.validated_data)
        return Response(StaffOut(user).data, status=201)


class StaffUpdateIn(Strict):
    role = serializers.ChoiceField(choices=StaffRole.choices, required=False)
    is_active = serializers.BooleanField(required=False)


class PortalStaffUpdateApi(PortalApi):
    write_roles = OWNERS

    @extend_schema(
        request=StaffUpdateIn,
        responses={200: StaffOut, **problems(404, 409)},
        tags=["portal"],
        description="Owners only: change a colleague's role or deactivate them (their sessions "
        "end at once).",
    )
    def patch(self, request: Request, staff_id: uuid.UUID) -> Response:
        data = StaffUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = staff_user_update(by=self.staff, staff_id=staff_id, **data.validated_data)
        return Response(StaffOut(user).data)


# --- places ----------------------------------------------------------------------------------
