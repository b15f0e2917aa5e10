"""Portal API (tag ``portal``): sign-in, the signed-in member of staff, staff, audit trail, and
the merchant's overview. Every page of ``/portal/`` is backed by one of these endpoints."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotFound, ValidationFailed
from core.openapi import problems
from core.problems import problem_response
from loyalty.models import Outlet
from loyalty.payloads import customer_payload, ledger_entry_payload, purchase_payload
from loyalty.selectors import program_for
from loyalty.services.places import PLACE_KINDS
from outbox.models import Delivery, DeliveryStatus, WebhookEndpoint
from outbox.services import WEBHOOK_EVENT_TYPES
from portal.authentication import IsPortalStaff, PortalAccessAuthentication, client_address
from portal.errors import LoginThrottled
from portal.models import StaffRole, StaffUser
from portal.selectors import (
    audit_list,
    customer_detail,
    customer_search,
    dashboard_figures,
    delivery_detail,
    delivery_health,
    delivery_row,
    delivery_search,
    endpoint_get,
    endpoint_list,
    endpoint_paused,
    page_after,
    page_by_time,
    place_list,
    purchase_detail,
    purchase_search,
    staff_list,
    time_cursor_parse,
)
from portal.services import (
    OWNERS,
    customer_points_adjust,
    deliveries_replay,
    endpoint_create,
    endpoint_pause,
    endpoint_resume,
    endpoint_secret_rotate,
    endpoint_update,
    portal_login,
    portal_logout,
    portal_place_create,
    portal_place_deactivate,
    portal_place_rename,
    portal_refresh,
    purchase_refund,
    staff_password_change,
    staff_user_create,
    staff_user_update,
)
from portal.services.api_keys import (
    api_key_list,
    portal_api_key_create,
    portal_api_key_revoke,
    portal_api_key_rotate,
)
from portal.services.idempotency import HEADER, IdempotencyInProgress
from portal.services.program import program_settings, program_settings_update


class _Strict(serializers.Serializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                {name: ["Unknown field; remove it."] for name in sorted(unknown)}
            )
        return attrs


def cursor_param(name: str = "cursor") -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, description="`next` of the previous page.")


def int_cursor(request: Request) -> int | None:
    raw = request.query_params.get("cursor")
    if raw in (None, ""):
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise ValidationFailed(
            "cursor must be the `next` of a previous page.",
            errors={"cursor": ["Send the `next` value back unchanged."]},
        )
    return int(raw)


class PublicPortalApi(APIView):
    """Sign-in endpoints: no token; a throttled sign-in answers 429 with ``Retry-After``."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, LoginThrottled):
            response = problem_response(
                status_code=429,
                slug=exc.slug,
                title=exc.title,
                detail=exc.detail,
                headers={"Retry-After": str(exc.retry_after)},
                retry_after=exc.retry_after,
            )
            return response  # type: ignore[return-value]
        return super().handle_exception(exc)


class PortalApi(APIView):
    """A signed-in endpoint; writes need the owner or manager role unless ``write_roles``."""

    authentication_classes = [PortalAccessAuthentication]
    permission_classes = [IsPortalStaff]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # An undeclared method is 405 before credentials are looked at (DRF checks them first).
        method = (request.method or "").lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise exceptions.MethodNotAllowed(request.method or "")
        super().initial(request, *args, **kwargs)

    @property
    def staff(self) -> StaffUser:
        user = self.request.user
        assert isinstance(user, StaffUser)
        return user


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


class PasswordIn(_Strict):
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


class StaffListOut(serializers.Serializer):
    results = StaffOut(many=True)
    next = serializers.CharField(allow_null=True)


class StaffCreateIn(_Strict):
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


class StaffUpdateIn(_Strict):
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


class PlaceCreateIn(_Strict):
    name = serializers.CharField(max_length=200)
    outlet_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="A device needs its outlet; a manager may."
    )


class PlaceUpdateIn(_Strict):
    name = serializers.CharField(max_length=200, required=False)
    is_active = serializers.BooleanField(
        required=False, help_text="Only false: a deactivated place cannot take new purchases."
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
        description="Owners and managers: rename a place (``name``) or deactivate it "
        "(``is_active: false``); it stays in history but takes no new purchases.",
    )
    def patch(self, request: Request, kind: str, place_id: uuid.UUID) -> Response:
        place_kind(kind)
        data = PlaceUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        if not fields:
            msg = "Send name or is_active."
            raise ValidationFailed(msg, errors={"name": [msg]})
        if fields.get("is_active") is True:
            msg = "A deactivated place cannot be reactivated; create a new one."
            raise ValidationFailed(msg, errors={"is_active": [msg]})
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
        return row


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


class CustomerListOut(serializers.Serializer):
    results = serializers.ListField(child=serializers.DictField())
    next = serializers.CharField(allow_null=True)


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
        responses={200: CustomerListOut, **problems()},
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


class AdjustIn(_Strict):
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


class PurchaseFilterIn(_Strict):
    since = serializers.DateField(required=False, help_text="First day (inclusive).")
    until = serializers.DateField(required=False, help_text="Last day (inclusive).")
    outlet_id = serializers.UUIDField(required=False)
    order_id = serializers.CharField(required=False, max_length=100)
    cursor = serializers.CharField(required=False, max_length=100)


class PortalPurchaseListApi(PortalApi):
    @extend_schema(
        parameters=[PurchaseFilterIn],
        responses={200: CustomerListOut, **problems()},
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


class RefundIn(_Strict):
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


def endpoint_out(endpoint: WebhookEndpoint) -> dict[str, Any]:
    pause = endpoint_paused(endpoint_id=endpoint.id)
    return {
        "id": str(endpoint.id),
        "url": endpoint.url,
        "event_types": endpoint.event_types,
        "ordered": endpoint.ordered,
        "enabled": endpoint.is_enabled,
        "disabled_reason": endpoint.disabled_reason,
        "paused": pause is not None,
        "pause_reason": pause.reason if pause else "",
        "retry_schedule": endpoint.retry_schedule,
        "created_at": endpoint.created_at.isoformat(),
    }


class EndpointIn(_Strict):
    url = serializers.URLField(max_length=2000)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(WEBHOOK_EVENT_TYPES)),
        required=False,
        help_text="Empty or absent: every event type.",
    )
    ordered = serializers.BooleanField(required=False, default=True)


class PortalEndpointListApi(PortalApi):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, **problems()},
        tags=["portal"],
        description="The merchant's webhook endpoints and the event catalog.",
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "results": [
                    endpoint_out(e) for e in endpoint_list(merchant_id=self.staff.merchant_id)
                ],
                "event_types": sorted(WEBHOOK_EVENT_TYPES),
            }
        )

    @extend_schema(
        request=EndpointIn,
        responses={201: OpenApiTypes.OBJECT, **problems()},
        tags=["portal"],
        description="Create an endpoint (targets resolving to private, loopback or metadata "
        "addresses are refused); the answer carries its signing secret, shown only here.",
    )
    def post(self, request: Request) -> Response:
        data = EndpointIn(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = endpoint_create(by=self.staff, **data.validated_data)
        return Response({**endpoint_out(endpoint), "secret": secret}, status=201)


class EndpointUpdateIn(_Strict):
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(WEBHOOK_EVENT_TYPES)), required=False
    )
    ordered = serializers.BooleanField(required=False)


class PortalEndpointDetailApi(PortalApi):
    @extend_schema(responses={200: OpenApiTypes.OBJECT, **problems(404)}, tags=["portal"])
    def get(self, request: Request, endpoint_id: uuid.UUID) -> Response:
        return Response(
            endpoint_out(endpoint_get(merchant_id=self.staff.merchant_id, endpoint_id=endpoint_id))
        )

    @extend_schema(
        request=EndpointUpdateIn,
        responses={200: OpenApiTypes.OBJECT, **problems(404)},
        tags=["portal"],
        description="Change the event-type subscriptions or ordering.",
    )
    def patch(self, request: Request, endpoint_id: uuid.UUID) -> Response:
        data = EndpointUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            endpoint_out(
                endpoint_update(by=self.staff, endpoint_id=endpoint_id, **data.validated_data)
            )
        )


class PauseIn(_Strict):
    reason = serializers.CharField(max_length=300)


class PortalEndpointPauseApi(PortalApi):
    @extend_schema(
        request=PauseIn,
        responses={204: None, **problems(404)},
        tags=["portal"],
        description="Hold this endpoint's deliveries (they stay pending) with a reason.",
    )
    def post(self, request: Request, endpoint_id: uuid.UUID) -> Response:
        data = PauseIn(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint_pause(by=self.staff, endpoint_id=endpoint_id, reason=data.validated_data["reason"])
        return Response(status=204)


class PortalEndpointResumeApi(PortalApi):
    @extend_schema(
        request=None,
        responses={204: None, **problems(404)},
        tags=["portal"],
        description="Resume a paused endpoint (and re-enable a disabled one).",
    )
    def post(self, request: Request, endpoint_id: uuid.UUID) -> Response:
        endpoint_resume(by=self.staff, endpoint_id=endpoint_id)
        return Response(status=204)


class PortalEndpointRotateApi(PortalApi):
    @extend_schema(
        request=None,
        responses={200: OpenApiTypes.OBJECT, **problems(404)},
        tags=["portal"],
        description="A new signing secret, effective at once (no overlap yet: "
        "update the receiver right away). Shown only in this answer.",
    )
    def post(self, request: Request, endpoint_id: uuid.UUID) -> Response:
        return Response({"secret": endpoint_secret_rotate(by=self.staff, endpoint_id=endpoint_id)})


class DeliveryFilterIn(_Strict):
    endpoint_id = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, required=False)
    event_type = serializers.ChoiceField(choices=sorted(WEBHOOK_EVENT_TYPES), required=False)
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)
    cursor = serializers.CharField(required=False, max_length=100)


class PortalDeliveryListApi(PortalApi):
    @extend_schema(
        parameters=[DeliveryFilterIn],
        responses={200: OpenApiTypes.OBJECT, **problems()},
        tags=["portal"],
        description="The webhook delivery log, newest first, filtered.",
    )
    def get(self, request: Request) -> Response:
        data = DeliveryFilterIn(data=request.query_params.dict())
        data.is_valid(raise_exception=True)
        filters = dict(data.validated_data)
        cursor = filters.pop("cursor", None)
        if cursor is not None and (not cursor.isdigit() or len(cursor) > 18):
            raise ValidationFailed(
                "cursor must be the `next` of a previous page.",
                errors={"cursor": ["Send the `next` value back unchanged."]},
            )
        rows, nxt = page_after(
            delivery_search(merchant_id=self.staff.merchant_id, **filters),
            cursor=int(cursor) if cursor else None,
        )
        return Response(
            {"results": [delivery_row(d) for d in rows], "next": None if nxt is None else str(nxt)}
        )


class PortalDeliveryDetailApi(PortalApi):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, **problems(404)},
        tags=["portal"],
        description="One delivery with the event's body and every attempt "
        "(response status, excerpt, duration).",
    )
    def get(self, request: Request, delivery_id: int) -> Response:
        return Response(
            delivery_detail(merchant_id=self.staff.merchant_id, delivery_id=delivery_id)
        )


class PortalDeliveryReplayApi(PortalApi):
    @extend_schema(
        request=None,
        responses={200: OpenApiTypes.OBJECT, **problems(404)},
        tags=["portal"],
        description="Send this delivery again (same webhook-id).",
    )
    def post(self, request: Request, delivery_id: int) -> Response:
        delivery_detail(merchant_id=self.staff.merchant_id, delivery_id=delivery_id)  # 404
        return Response({"replayed": deliveries_replay(by=self.staff, delivery_id=delivery_id)})


class ReplayWindowIn(_Strict):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    endpoint_id = serializers.UUIDField(required=False)


class PortalDeliveryReplayFailedApi(PortalApi):
    @extend_schema(
        request=ReplayWindowIn,
        responses={200: OpenApiTypes.OBJECT, **problems(404)},
        tags=["portal"],
        description="Replay every dead delivery created in the window (of one "
        "endpoint if given); answers how many were queued.",
    )
    def post(self, request: Request) -> Response:
        data = ReplayWindowIn(data=request.data)
        data.is_valid(raise_exception=True)
        return Response({"replayed": deliveries_replay(by=self.staff, **data.validated_data)})


# --- API keys --------------------------------------------------------------------------------


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


class ApiKeyIn(_Strict):
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


class RotateIn(_Strict):
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


class TierIn(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    min_lifetime_spend_minor = serializers.IntegerField(min_value=0, max_value=10**12)
    earn_bps = serializers.IntegerField(min_value=0, max_value=10_000)

    def to_internal_value(self, data: Any) -> Any:
        # A nested serializer has no initial_data of its own: refuse unknown keys here.
        if isinstance(data, dict):
            unknown = set(data) - set(self.fields)
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field; remove it."] for name in sorted(unknown)}
                )
        return super().to_internal_value(data)


class ProgramIn(_Strict):
    earn_bps = serializers.IntegerField(min_value=0, max_value=10_000)
    redeem_cap_bps = serializers.IntegerField(min_value=0, max_value=10_000)
    minor_per_point = serializers.IntegerField(min_value=1, max_value=1_000_000)
    expiry_days = serializers.IntegerField(min_value=1, max_value=3650, allow_null=True)
    credit_delay_days = serializers.IntegerField(min_value=0, max_value=365)
    tiers = TierIn(many=True, required=False, help_text="Absent: the tiers stay as they are.")


class PortalProgramApi(PortalApi):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, **problems()},
        tags=["portal"],
        description="The program's rules: earn rate and redeem cap (basis points), "
        "point value (minor units), expiry and credit delay (days), tiers.",
    )
    def get(self, request: Request) -> Response:
        return Response(program_settings(program_for(self.staff.merchant)))

    @extend_schema(
        request=ProgramIn,
        responses={200: OpenApiTypes.OBJECT, **problems()},
        tags=["portal"],
        description="Replace the rules (owners and managers); "
        "effective for the next purchase; audited with before and after.",
    )
    def put(self, request: Request) -> Response:
        data = ProgramIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        tiers = values.pop("tiers", None)
        return Response(
            program_settings_update(
                by=self.staff,
                values=values,
                tiers=[dict(t) for t in tiers] if tiers is not None else None,
            )
        )
