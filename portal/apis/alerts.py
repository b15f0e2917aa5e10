"""Merchant alerts: link the merchant's Telegram chat (a one-time code), and per endpoint the
"failing for N minutes" / "dead deliveries" alert sent there (:mod:`portal.services.alerts`)."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.openapi import problems
from notifications.merchant_chats import merchant_link_deep_link
from portal.apis.base import PortalApi, Strict
from portal.authentication import client_address
from portal.services.alerts import (
    FAILING_MINUTES_MAX,
    alert_settings,
    endpoint_alert_get,
    endpoint_alert_set,
    merchant_chat_linked,
    portal_telegram_link_code_issue,
    portal_telegram_unlink,
)


class TelegramLinkOut(serializers.Serializer):
    linked = serializers.BooleanField(help_text="A chat gets this merchant's alerts.")


class TelegramLinkCodeOut(serializers.Serializer):
    code = serializers.CharField(help_text="Single use; shown once.")
    expires_at = serializers.DateTimeField()
    command = serializers.CharField(help_text="What to send to the bot: /merchant <code>.")
    deep_link = serializers.CharField(
        allow_null=True,
        help_text="Opens the bot with the code; null when the bot is not reachable.",
    )


class AlertIn(Strict):
    failing_minutes = serializers.IntegerField(
        min_value=1,
        max_value=FAILING_MINUTES_MAX,
        allow_null=True,
        help_text="Alert when the endpoint has failed for this long; null: off.",
    )
    on_dead = serializers.BooleanField(help_text="Alert when a delivery is dead.")


class AlertOut(serializers.Serializer):
    failing_minutes = serializers.IntegerField(allow_null=True)
    on_dead = serializers.BooleanField()


class PortalTelegramLinkApi(PortalApi):
    @extend_schema(
        responses={200: TelegramLinkOut, **problems()},
        tags=["portal"],
        description="Whether a Telegram chat is linked to the merchant for endpoint alerts.",
    )
    def get(self, request: Request) -> Response:
        return Response({"linked": merchant_chat_linked(merchant_id=self.staff.merchant_id)})

    @extend_schema(
        responses={204: None, **problems()},
        tags=["portal"],
        description="Owners and managers: unlink the chat (alerts wait until one is linked).",
    )
    def delete(self, request: Request) -> Response:
        portal_telegram_unlink(by=self.staff, address=client_address(request))
        return Response(status=204)


class PortalTelegramLinkCodeApi(PortalApi):
    @extend_schema(
        request=None,
        responses={201: TelegramLinkCodeOut, **problems()},
        tags=["portal"],
        description="Owners and managers: a one-time code (15 minutes) to send to the platform "
        "bot as /merchant <code> (or open deep_link); that chat then gets the alerts. "
        "A new code replaces an unused one.",
    )
    def post(self, request: Request) -> Response:
        code, expires = portal_telegram_link_code_issue(
            by=self.staff, address=client_address(request)
        )
        body = {
            "code": code,
            "expires_at": expires,
            "command": f"/merchant {code}",
            "deep_link": merchant_link_deep_link(code=code),
        }
        return Response(TelegramLinkCodeOut(body).data, status=201)


class PortalEndpointAlertApi(PortalApi):
    @extend_schema(
        responses={200: AlertOut, **problems(404)},
        tags=["portal"],
        description="The endpoint's alert (both off when never set).",
    )
    def get(self, request: Request, endpoint_id: uuid.UUID) -> Response:
        return Response(
            endpoint_alert_get(merchant_id=self.staff.merchant_id, endpoint_id=endpoint_id)
        )

    @extend_schema(
        request=AlertIn,
        responses={200: AlertOut, **problems(404)},
        tags=["portal"],
        description="Owners and managers: set the alert. Each condition alerts once in the "
        "merchant's Telegram chat, then stays quiet until it clears; audited.",
    )
    def put(self, request: Request, endpoint_id: uuid.UUID) -> Response:
        data = AlertIn(data=request.data)
        data.is_valid(raise_exception=True)
        alert = endpoint_alert_set(
            by=self.staff,
            endpoint_id=endpoint_id,
            language=request.headers.get("Accept-Language", "")[:10],
            address=client_address(request),
            **data.validated_data,
        )
        return Response(alert_settings(alert))
