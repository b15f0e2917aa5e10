"""``webhook_info``: what Telegram knows of the customer bot's webhook (``getWebhookInfo``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from outbox.transports import TransportError
from outbox.transports.telegram import BotApi


def _when(timestamp: Any) -> str:
    if not isinstance(timestamp, int | float) or not timestamp:
        return "-"
    return datetime.fromtimestamp(float(timestamp), UTC).isoformat(timespec="seconds")


class Command(BaseCommand):
    help = (
        "Show Telegram's getWebhookInfo for the customer bot (TELEGRAM_NOTIFY_BOT_TOKEN): the "
        "registered URL, pending updates Telegram still holds, the last delivery error and "
        "when it happened (runbooks 000/002: 'webhook fails'). --json prints Telegram's answer "
        "as it is. Goes through the one Bot API client; the token is never printed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the raw answer as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        token = settings.TELEGRAM_NOTIFY_BOT_TOKEN
        if not token:
            raise CommandError("TELEGRAM_NOTIFY_BOT_TOKEN is not set")
        api = settings.TELEGRAM_API_BASE_URL
        try:
            info = BotApi(str(token)).call("getWebhookInfo", {})
        except TransportError as exc:
            if exc.status_code is None:
                raise CommandError(
                    f"Telegram Bot API at {api} unreachable: {exc.error_class}"
                ) from None
            reason = " ".join((exc.excerpt or exc.error_class).split())
            raise CommandError(f"Telegram Bot API at {api} refused: {reason}") from None
        if not isinstance(info, dict):
            raise CommandError(f"Telegram Bot API at {api} answered something unexpected")
        if options["json"]:
            self.stdout.write(json.dumps(info, ensure_ascii=False, sort_keys=True))
            return
        lines = [
            f"url: {info.get('url') or '(none: no webhook registered; run set_webhook)'}",
            f"pending_update_count: {info.get('pending_update_count', 0)}",
            f"last_error_date: {_when(info.get('last_error_date'))}",
            f"last_error_message: {info.get('last_error_message') or '-'}",
            f"max_connections: {info.get('max_connections', '-')}",
            f"allowed_updates: {', '.join(info.get('allowed_updates') or []) or '-'}",
        ]
        self.stdout.write("\n".join(lines))
