"""Webhook endpoints, the delivery log and replays."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import ValidationFailed
from core.openapi import problems
from outbox.models import DeliveryStatus, WebhookEndpoint
from outbox.selectors import deliveries_progress
from outbox.services import WEBHOOK_EVENT_TYPES
from portal.apis.base import PortalApi, Strict
from portal.selectors import (
    delivery_detail,
    delivery_row,
    delivery_search,
    endpoint_get,
    endpoint_list,
    endpoint_paused,
    page_after,
)
from portal.services import (
    deliveries_replay,
    endpoint_create,
    endpoint_pause,
    endpoint_resume,
    endpoint_secret_rotate,
    endpoint_update,
)
from portal.services.webhooks import (
    LOG_EVENT_TYPES,
    OVERLAP_HOURS_DEFAULT,
    deliveries_about,
    deliveries_replay_about,
    endpoint_test_send,
)


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


class EndpointIn(Strict):
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


class EndpointUpdateIn(Strict):
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


class PauseIn(Strict):
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


class RotateIn(Strict):
    overlap_hours = serializers.IntegerField(
        min_value=0,
        max_value=168,
        required=False,
        default=OVERLAP_HOURS_DEFAULT,
        help_text="How long the replaced secret keeps signing too (both signatures are sent); "
        "0: it stops at once (a compromised secret). Default 24.",
    )


class PortalEndpointRotateApi(PortalApi):
    @extend_schema(
        request=RotateIn,
        responses={200: OpenApiTypes.OBJECT, **problems(404)},
        tags=["portal"],
        description="A new signing secret, shown only in this answer. During the overlap "
        "every message carries both signatures in `webhook-signature` (newest first); "
        "`previous_valid_until` says when the old one stops (null: already stopped).",
    )
    def post(self, request: Request, endpoint_id: uuid.UUID) -> Response:
        data = RotateIn(data=request.data)
        data.is_valid(raise_exception=True)
        secret, until = endpoint_secret_rotate(
            by=self.staff, endpoint_id=endpoint_id, **data.validated_data
        )
        return Response(
            {"secret": secret, "previous_valid_until": until.isoformat() if until else None}
        )


class PortalEndpointTestApi(PortalApi):
    @extend_schema(
        request=None,
        responses={202: OpenApiTypes.OBJECT, **problems(404)},
        tags=["portal"],
        description="Send this endpoint a `webhook.test` event through the normal delivery "
        "engine (signed, retried, logged), whatever its event-type subscriptions; answers the "
        "delivery to follow in the log.",
    )
    def post(self, request: Request, endpoint_id: uuid.UUID) -> Response:
        delivery = endpoint_test_send(by=self.staff, endpoint_id=endpoint_id)
        return Response(
            {"delivery_id": delivery.id, "message_id": delivery.event.message_id}, status=202
        )


class DeliveryFilterIn(Strict):
    endpoint_id = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, required=False)
    event_type = serializers.ChoiceField(choices=LOG_EVENT_TYPES, required=False)
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
        description="One delivery with the event's body and every attempt: the request "
        "headers sent (signatures included, never the secret; empty when the target was "
        "refused before sending), the request body (the same on every try), the response "
        "status, excerpt and duration.",
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


class ReplayWindowIn(Strict):
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


class AboutIn(Strict):
    customer_id = serializers.UUIDField(required=False)
    order_id = serializers.CharField(required=False, max_length=100)


class PortalDeliveryReplayAboutApi(PortalApi):
    @extend_schema(
        parameters=[AboutIn],
        responses={200: OpenApiTypes.OBJECT, **problems()},
        tags=["portal"],
        description="Progress of the deliveries about one customer or one order: how many "
        "in total, still pending (queued or in flight), delivered, dead.",
    )
    def get(self, request: Request) -> Response:
        data = AboutIn(data=request.query_params.dict())
        data.is_valid(raise_exception=True)
        return Response(deliveries_progress(deliveries_about(by=self.staff, **data.validated_data)))

    @extend_schema(
        request=AboutIn,
        responses={200: OpenApiTypes.OBJECT, **problems()},
        tags=["portal"],
        description="Replay every finished webhook delivery whose event concerns one customer "
        "(customer_id) or one order (order_id: purchases and refunds): answers how many "
        "matched and how many were queued; follow them with GET on this path.",
    )
    def post(self, request: Request) -> Response:
        data = AboutIn(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(deliveries_replay_about(by=self.staff, **data.validated_data))


# --- API keys --------------------------------------------------------------------------------
