"""``fake_bot_api``: run the fake Telegram Bot API for the local demo (``make run``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from notifications.fake_bot_api import main


class Command(BaseCommand):
    help = (
        "Run the fake Telegram Bot API (rate limits on, messages recorded, inspect under "
        "/_fake/) in the foreground. Point the platform at it with "
        "TELEGRAM_API_BASE_URL=http://127.0.0.1:8081 and any TELEGRAM_NOTIFY_BOT_TOKEN such as "
        "123456:demo. Same as python -m notifications.fake_bot_api."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8081)
        parser.add_argument(
            "--no-limits", action="store_true", help="No 30/s and 1/s-per-chat limits."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        argv = ["--host", options["host"], "--port", str(options["port"])]
        if options["no_limits"]:
            argv.append("--no-limits")
        main(argv)
