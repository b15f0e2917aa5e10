"""``telegram_link_reset``: drop one chat's open link request (runbook 003 §2.4, "reset a stuck
dialogue").

A chat that pressed a merchant's ``/start`` link waits for its phone number for up to
``LINK_REQUEST_TTL``; while it waits, a shared contact links a card of that merchant. When the
user is stuck there (wrong merchant's link, gave up, support asks to start over), this drops the
request, exactly as ``/stop`` does for the request (linked cards stay linked). The user starts
again with the merchant's link. A chat id names one Telegram chat across every merchant: a chat
holds at most one request, so no merchant option is needed; the answer names the merchant.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from notifications.selectors import link_request_get
from notifications.services import telegram_link_request_close


class Command(BaseCommand):
    help = (
        "Drop the open link request of one Telegram chat (the user pressed a merchant's /start "
        "link and has not shared a phone number yet). Linked cards stay linked; the user "
        "starts again with the merchant's link. Exits 1 when the chat has no open request."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--chat-id", type=int, required=True, help="The Telegram chat id (an integer)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        chat_id: int = options["chat_id"]
        request = link_request_get(chat_id=chat_id)
        if request is None:
            raise CommandError(f"chat {chat_id} has no open link request: nothing to reset")
        telegram_link_request_close(chat_id=chat_id)
        opened = request.created_at.isoformat(timespec="seconds")
        self.stdout.write(
            f"chat {chat_id}: link request for {request.merchant.name} (opened {opened}) "
            "dropped; the user starts again with the merchant's link"
        )
