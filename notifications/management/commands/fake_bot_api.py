"""``fake_bot_api``: run the fake Telegram Bot API for the local demo (``make run``).

The fake is a test double (``tests/fakes/telegram_bot_api.py``): it is not packaged and not in
the production image, so this command works from a source checkout only and says so otherwise.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Run the fake Telegram Bot API (rate limits on, messages recorded, inspect under "
        "/_fake/) in the foreground. Point the platform at it with "
        "TELEGRAM_API_BASE_URL=http://127.0.0.1:8081 and any TELEGRAM_NOTIFY_BOT_TOKEN such as "
        "123456:demo. Same as python -m tests.fakes.telegram_bot_api; needs a source checkout "
        "(tests/ is not installed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8081)
        parser.add_argument(
            "--no-limits", action="store_true", help="No 30/s and 1/s-per-chat limits."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            from tests.fakes.telegram_bot_api import main
        except ImportError:
            raise CommandError(
                "the fake Bot API (tests/fakes/telegram_bot_api.py) is not here: it ships with "
                "a source checkout only, not with the installed package or the image"
            ) from None
        argv = ["--host", options["host"], "--port", str(options["port"])]
        if options["no_limits"]:
            argv.append("--no-limits")
        main(argv)
