"""Purchases and refunds."""

from __future__ import annotations

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.openapi import problems
from loyalty.payloads import purchase_payload
from portal.apis.base import PageOut, PortalApi, Strict
from portal.authentication import client_address
from portal.selectors import (
    page_by_time,
    purchase_detail,
    purchase_search,
    time_cursor_parse,
)
from portal.services import (
    purchase_refund,
)
from portal.services.idempotency import HEADER, IdempotencyInProgress


class PurchaseFilterIn(Strict):
    since = serializers.DateField(required=False, help_text="First day (inclusive).")
    until = serializers.DateField(required=False, help_text="Last day (inclusive).")
    outlet_id = serializers.UUIDField(required=False)
    order_id = serializers.CharField(required=False, max_length=100)
    cursor = serializers.CharField(required=False, max_length=100)


class PortalPurchaseListApi(PortalApi):
    @extend_schema(
        parameters=[PurchaseFilterIn],
        responses={200: PageOut, **problems()},
        tags=["portal"],
        description="Purchases newest first, filtered by day range, outlet and order id.",
    )
    def get(self, request: Request) -> Response:
        data = PurchaseFilterIn(data=request.query_params.dict())
        data.is_valid(raise_exception=True)
        filters = dict(data.validated_data)
        cursor = time_cursor_parse(filters.pop("cursor", None))
        rows, nxt = page_by_time(
            purchase_search(merchant_id=self.staff.merchant_id, **filters), cursor=cursor
        )
        return Response(
            {
                "results": [
                    {
                        **purchase_payload(p, balance_points=p.customer.balance_points),
                        "customer_phone": p.customer.phone,
                    }
                    for p in rows
                ],
                "next": nxt,
            }
        )


class PortalPurchaseDetailApi(PortalApi):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, **problems(404)},
        tags=["portal"],
        description="The purchase, its lines, customer and refunds.",
    )
    def get(self, request: Request, purchase_id: uuid.UUID) -> Response:
        return Response(
            purchase_detail(merchant_id=self.staff.merchant_id, purchase_id=purchase_id)
        )


class RefundIn(Strict):
    amount_minor = serializers.IntegerField(
        required=False, min_value=1, help_text="Absent: the rest of the purchase."
    )


class PortalPurchaseRefundApi(PortalApi):
    @extend_schema(
        request=RefundIn,
        parameters=[
            OpenApiParameter(
                HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="A unique value per refund (e.g. a UUID); a retry with "
                "the same key and body answers the first refund again.",
            )
        ],
        responses={201: OpenApiTypes.OBJECT, **problems(404, 409, 422)},
        tags=["portal"],
        description="Refund all or part of the purchase with points moved back in proportion "
        "(the integration API's refund, with the same Idempotency-Key rules). Owners and "
        "managers.",
    )
    def post(self, request: Request, purchase_id: uuid.UUID) -> Response:
        data = RefundIn(data=request.data)
        data.is_valid(raise_exception=True)
        status, body, replayed = purchase_refund(
            by=self.staff,
            idempotency_key=request.headers.get(HEADER),  # type: ignore[arg-type]
            purchase_id=purchase_id,
            amount_minor=data.validated_data.get("amount_minor"),
            address=client_address(request),
        )
        response = Response(body, status=status)
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if isinstance(exc, IdempotencyInProgress):
            response["Retry-After"] = str(exc.retry_after)
        return response


# --- webhooks --------------------------------------------------------------------------------
