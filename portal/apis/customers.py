"""Customers: search, detail, manual points adjustment."""

from __future__ import annotations

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.openapi import problems
from loyalty.payloads import customer_payload, ledger_entry_payload
from loyalty.selectors import program_for
from portal.apis.base import PageOut, PortalApi, Strict, cursor_param
from portal.authentication import client_address
from portal.selectors import (
    customer_detail,
    customer_search,
    page_by_time,
    time_cursor_parse,
)
from portal.services import (
    customer_points_adjust,
)


class PortalCustomerListApi(PortalApi):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "q",
                OpenApiTypes.STR,
                description="A phone (full or a fragment of digits) or part of a name.",
            ),
            cursor_param(),
        ],
        responses={200: PageOut, **problems()},
        tags=["portal"],
        description="Find customers by phone or name, newest first.",
    )
    def get(self, request: Request) -> Response:
        rows, nxt = page_by_time(
            customer_search(
                merchant_id=self.staff.merchant_id, query=request.query_params.get("q", "")
            ),
            cursor=time_cursor_parse(request.query_params.get("cursor")),
        )
        program = program_for(self.staff.merchant)
        return Response(
            {"results": [customer_payload(c, program=program) for c in rows], "next": nxt}
        )


class PortalCustomerDetailApi(PortalApi):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, **problems(404)},
        tags=["portal"],
        description="The customer with balance, tier, open lots and their expiry, the latest "
        "50 ledger entries, the latest 20 purchases and the Telegram link status.",
    )
    def get(self, request: Request, customer_id: uuid.UUID) -> Response:
        return Response(
            customer_detail(merchant_id=self.staff.merchant_id, customer_id=customer_id)
        )


class AdjustIn(Strict):
    points = serializers.IntegerField(min_value=-(10**9), max_value=10**9)
    reason = serializers.CharField(max_length=200)


class PortalCustomerAdjustApi(PortalApi):
    @extend_schema(
        request=AdjustIn,
        responses={201: OpenApiTypes.OBJECT, **problems(404, 422)},
        tags=["portal"],
        description="Add (positive) or remove (negative) points by hand with a reason; "
        "the customer's webhooks and Telegram get `points.adjusted`. Owners and managers.",
    )
    def post(self, request: Request, customer_id: uuid.UUID) -> Response:
        data = AdjustIn(data=request.data)
        data.is_valid(raise_exception=True)
        entry = customer_points_adjust(
            by=self.staff,
            customer_id=customer_id,
            address=client_address(request),
            **data.validated_data,
        )
        return Response(ledger_entry_payload(entry), status=201)


# --- purchases and refunds -------------------------------------------------------------------
