"""``delete_webhook``: stop Telegram from posting the customer bot's updates here."""

from __future__ import annotations

from notifications.bot_setup import webhook_unregister
from notifications.management.webhook_command import WebhookCommand


class Command(WebhookCommand):
    help = (
        "Remove the customer bot's webhook (set with set_webhook). Telegram keeps new updates "
        "for up to 24 hours until a webhook is set again. Needs TELEGRAM_NOTIFY_BOT_TOKEN; talks "
        "to the Bot API at TELEGRAM_API_BASE_URL."
    )

    def change(self, *, drop_pending_updates: bool) -> str:
        webhook_unregister(drop_pending_updates=drop_pending_updates)
        return "webhook deleted"
