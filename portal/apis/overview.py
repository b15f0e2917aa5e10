"""The audit trail, the overview counts and the dashboard's series."""

from __future__ import annotations

from django.db.models import Count, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.openapi import problems
from outbox.models import Delivery, DeliveryStatus
from portal.apis.base import PortalApi, cursor_param, int_cursor
from portal.selectors import (
    audit_list,
    dashboard_figures,
    delivery_health,
    page_after,
)


class AuditOut(serializers.Serializer):
    id = serializers.IntegerField()
    actor = serializers.CharField()
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    detail = serializers.JSONField()
    created_at = serializers.DateTimeField()


class AuditListOut(serializers.Serializer):
    results = AuditOut(many=True)
    next = serializers.CharField(allow_null=True)


class PortalAuditListApi(PortalApi):
    @extend_schema(
        parameters=[cursor_param()],
        responses={200: AuditListOut, **problems()},
        tags=["portal"],
        description="Who did what and when in the portal, newest first.",
    )
    def get(self, request: Request) -> Response:
        rows, nxt = page_after(
            audit_list(merchant_id=self.staff.merchant_id), cursor=int_cursor(request)
        )
        return Response(
            {"results": AuditOut(rows, many=True).data, "next": None if nxt is None else str(nxt)}
        )


class PortalOverviewApi(PortalApi):
    """The signed-in merchant's figures: customers, points, webhook delivery health."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT, **problems()}, tags=["portal"])
    def get(self, request: Request) -> Response:
        user = self.staff
        merchant = user.merchant
        deliveries = Delivery.objects.filter(merchant=merchant).aggregate(
            pending=Count("id", filter=Q(status=DeliveryStatus.PENDING)),
            dead=Count("id", filter=Q(status=DeliveryStatus.DEAD)),
            delivered=Count("id", filter=Q(status=DeliveryStatus.DELIVERED)),
        )
        return Response(
            {
                "merchant": {"id": str(merchant.id), "name": merchant.name},
                "user": {"email": user.email, "role": user.role},
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


class PortalDashboardApi(PortalApi):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, **problems()},
        tags=["portal"],
        description="Purchases, revenue (less refunds), points earned and redeemed and active "
        "customers for today, 7 and 30 days, a daily series of 30 days, and webhook delivery "
        "health per endpoint (24 h success rate, p95 latency, dead count, circuit state, "
        "disabled reason) with hourly attempts of the last 24 h.",
    )
    def get(self, request: Request) -> Response:
        merchant_id = self.staff.merchant_id
        return Response(
            {
                **dashboard_figures(merchant_id=merchant_id),
                "delivery": delivery_health(merchant_id=merchant_id),
            }
        )


# --- customers -------------------------------------------------------------------------------
