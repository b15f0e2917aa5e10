"""Telegram webhook: ``POST /api/telegram/webhook`` (registered by ``manage.py set_webhook``)."""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.parsers import TelegramJSONParser
from notifications import metrics
from notifications.intake import telegram_update_receive

#: The header in which Telegram echoes the ``secret_token`` given to setWebhook.
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_secret_matches(given: str | None) -> bool:
    """Constant-time comparison; no configured secret means no caller is trusted."""
    expected = settings.TELEGRAM_NOTIFY_WEBHOOK_SECRET
    if not expected or given is None:
        return False
    return hmac.compare_digest(given.encode(), str(expected).encode())


class TelegramWebhookApi(APIView):
    """Store the update and acknowledge at once; a worker on the inbound queue processes it."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    throttle_classes: list[Any] = []
    #: Size and depth limits, but text jsonb cannot hold is let through and sanitised in intake.
    parser_classes = [TelegramJSONParser]
    schema = None  # Telegram's endpoint, not part of the merchants' API

    class InputSerializer(serializers.Serializer):
        update_id = serializers.IntegerField(min_value=0)

    def post(self, request: Request) -> Response:
        # Checked before the body is even parsed: an unauthenticated caller learns nothing.
        if not webhook_secret_matches(request.headers.get(SECRET_HEADER)):
            metrics.BOT_ERRORS.labels("webhook_forbidden").inc()
            raise PermissionDenied(f"The {SECRET_HEADER} header does not match the bot's secret.")
        if not isinstance(request.data, dict):
            raise serializers.ValidationError({"update_id": ["Send a Telegram Update object."]})
        self.InputSerializer(data=request.data).is_valid(raise_exception=True)
        telegram_update_receive(payload=dict(request.data))
        return Response({"ok": True})
