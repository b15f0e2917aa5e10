"""``set_webhook``: register the customer bot's webhook at ``API_BASE_URL``."""

from __future__ import annotations

from notifications.bot_setup import ALLOWED_UPDATES, WEBHOOK_PATH, webhook_register
from notifications.management.webhook_command import WebhookCommand


class Command(WebhookCommand):
    help = (
        "Register the customer bot's webhook: Telegram will POST updates "
        f"({', '.join(ALLOWED_UPDATES)}) to API_BASE_URL + {WEBHOOK_PATH} with the header "
        "X-Telegram-Bot-Api-Secret-Token set to TELEGRAM_NOTIFY_WEBHOOK_SECRET. "
        "Needs TELEGRAM_NOTIFY_BOT_TOKEN and the secret; talks to the Bot API at "
        "TELEGRAM_API_BASE_URL. The real Bot API accepts only https URLs."
    )

    def change(self, *, drop_pending_updates: bool) -> str:
        return f"webhook set: {webhook_register(drop_pending_updates=drop_pending_updates)}"
