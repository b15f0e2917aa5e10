"""Sign-in, refresh, logout, the signed-in member of staff and their password."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.openapi import problems
from portal.apis.base import PortalApi, PublicPortalApi, Strict
from portal.authentication import client_address
from portal.models import StaffRole
from portal.services import (
    portal_login,
    portal_logout,
    portal_refresh,
    staff_password_change,
)


class LoginIn(Strict):
    email = serializers.EmailField()
    password = serializers.CharField(max_length=200)


class RefreshIn(Strict):
    refresh = serializers.CharField(max_length=2000)


class TokensOut(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()


class PortalLoginApi(PublicPortalApi):
    @extend_schema(
        request=LoginIn,
        responses={200: TokensOut, **problems()},
        tags=["portal"],
        auth=[],
        description="Sign in. Throttled per account (5 failures / 15 min) and per client address "
        "(20 failures / 15 min): a locked attempt answers 429 with `Retry-After`.",
    )
    def post(self, request: Request) -> Response:
        data = LoginIn(data=request.data)
        data.is_valid(raise_exception=True)
        pair = portal_login(**data.validated_data, address=client_address(request))
        return Response(pair.as_dict())


class PortalRefreshApi(PublicPortalApi):
    @extend_schema(
        request=RefreshIn,
        responses={200: TokensOut, **problems()},
        tags=["portal"],
        auth=[],
        description="Rotate the refresh token. Presenting an already rotated refresh token "
        "ends the whole session (reuse detection): every token of that sign-in stops working.",
    )
    def post(self, request: Request) -> Response:
        data = RefreshIn(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(portal_refresh(refresh=data.validated_data["refresh"]).as_dict())


class PortalLogoutApi(PublicPortalApi):
    @extend_schema(
        request=RefreshIn,
        responses={204: None, **problems()},
        tags=["portal"],
        auth=[],
        description="End the session: its refresh token and its access tokens stop working at "
        "once (access tokens are checked against the session on every request).",
    )
    def post(self, request: Request) -> Response:
        data = RefreshIn(data=request.data)
        data.is_valid(raise_exception=True)
        portal_logout(refresh=data.validated_data["refresh"])
        return Response(status=204)


class StaffOut(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=StaffRole.choices)
    is_active = serializers.BooleanField()
    last_login_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class MerchantOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class MeOut(serializers.Serializer):
    user = StaffOut()
    merchant = MerchantOut()


class PortalMeApi(PortalApi):
    @extend_schema(responses={200: MeOut, **problems()}, tags=["portal"])
    def get(self, request: Request) -> Response:
        return Response(MeOut({"user": self.staff, "merchant": self.staff.merchant}).data)


class PasswordIn(Strict):
    current_password = serializers.CharField(max_length=200)
    new_password = serializers.CharField(max_length=200)


class PortalPasswordChangeApi(PortalApi):
    #: Every role may change its own password.
    write_roles = tuple(StaffRole.values)

    @extend_schema(
        request=PasswordIn,
        responses={204: None, **problems()},
        tags=["portal"],
        description="Change your password; your other sessions end.",
    )
    def post(self, request: Request) -> Response:
        data = PasswordIn(data=request.data)
        data.is_valid(raise_exception=True)
        staff_password_change(
            user=self.staff,
            current=data.validated_data["current_password"],
            new=data.validated_data["new_password"],
        )
        return Response(status=204)
