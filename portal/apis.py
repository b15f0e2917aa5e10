"""Portal API: sign-in (login, refresh, logout) and the signed-in merchant's overview."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.openapi import problems
from outbox.models import Delivery, DeliveryStatus
from portal.services import (
    AuthenticationFailed,
    portal_login,
    portal_logout,
    portal_refresh,
    staff_from_access,
)


class _Strict(serializers.Serializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                {name: ["Unknown field; remove it."] for name in sorted(unknown)}
            )
        return attrs


class LoginIn(_Strict):
    email = serializers.EmailField()
    password = serializers.CharField(max_length=200)


class RefreshIn(_Strict):
    refresh = serializers.CharField(max_length=2000)


class TokensOut(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()


class PortalLoginApi(APIView):
    @extend_schema(
        request=LoginIn, responses={200: TokensOut, **problems()}, tags=["portal"], auth=[]
    )
    def post(self, request: Request) -> Response:
        data = LoginIn(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(portal_login(**data.validated_data).as_dict())


class PortalRefreshApi(APIView):
    @extend_schema(
        request=RefreshIn, responses={200: TokensOut, **problems()}, tags=["portal"], auth=[]
    )
    def post(self, request: Request) -> Response:
        data = RefreshIn(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(portal_refresh(refresh=data.validated_data["refresh"]).as_dict())


class PortalLogoutApi(APIView):
    @extend_schema(request=RefreshIn, responses={204: None, **problems()}, tags=["portal"], auth=[])
    def post(self, request: Request) -> Response:
        data = RefreshIn(data=request.data)
        data.is_valid(raise_exception=True)
        portal_logout(refresh=data.validated_data["refresh"])
        return Response(status=204)


class PortalOverviewApi(APIView):
    """The signed-in merchant's figures: customers, points, webhook delivery health."""

    @extend_schema(responses={200: dict, **problems()}, tags=["portal"], auth=[])
    def get(self, request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise AuthenticationFailed(
                "Send Authorization: Bearer <access token> from /auth/login."
            )
        user = staff_from_access(header.removeprefix("Bearer ").strip())
        merchant = user.merchant
        deliveries = Delivery.objects.filter(merchant=merchant).aggregate(
            pending=Count("id", filter=Q(status=DeliveryStatus.PENDING)),
            dead=Count("id", filter=Q(status=DeliveryStatus.DEAD)),
            delivered=Count("id", filter=Q(status=DeliveryStatus.DELIVERED)),
        )
        return Response(
            {
                "merchant": {"id": str(merchant.id), "name": merchant.name},
                "user": {"email": user.email},
                "customers": merchant.customers.count(),
                "purchases": merchant.purchases.count(),
                "deliveries": deliveries,
                "webhook_endpoints": [
                    {
                        "id": str(e.id),
                        "url": e.url,
                        "enabled": e.is_enabled,
                        "disabled_reason": e.disabled_reason,
                    }
                    for e in merchant.webhook_endpoints.order_by("created_at")
                ],
            }
        )
