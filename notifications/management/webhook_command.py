"""What ``set_webhook`` and ``delete_webhook`` share: the option, the call, one-line errors."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from notifications.bot_setup import BotSetupError


class WebhookCommand(BaseCommand):
    """Calls :meth:`change` and prints its answer; a :class:`BotSetupError` is one line."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--drop-pending-updates",
            action="store_true",
            help="Ask Telegram to forget updates it holds for the bot.",
        )

    def change(self, *, drop_pending_updates: bool) -> str:
        raise NotImplementedError

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            done = self.change(drop_pending_updates=options["drop_pending_updates"])
        except BotSetupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(done)
