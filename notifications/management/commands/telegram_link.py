"""``telegram_link``: print a merchant's Telegram deep link for its customers."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty.models import Merchant
from notifications.bot import deep_link
from notifications.bot_setup import BotSetupError, bot_username


class Command(BaseCommand):
    help = (
        "Print the merchant's customer-bot link, https://t.me/<bot_username>?start=<payload>: "
        "opening it starts the bot with /start <telegram_start_payload> and links the customer's "
        "card after they share their phone number. The bot username comes from getMe "
        "(TELEGRAM_NOTIFY_BOT_TOKEN, TELEGRAM_API_BASE_URL)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", required=True, help="The merchant's id (UUID).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            merchant_id = uuid.UUID(options["merchant"])
        except ValueError:
            raise CommandError(f"--merchant must be a UUID (got {options['merchant']!r})") from None
        merchant = Merchant.objects.filter(id=merchant_id).first()
        if merchant is None:
            raise CommandError(f"no merchant with id {merchant_id}")
        try:
            username = bot_username()
        except BotSetupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            deep_link(bot_username=username, start_payload=merchant.telegram_start_payload)
        )
