"""Builders of what Telegram posts to the webhook, and the environment of bot processes."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from tests.fakes.telegram_bot_api import FakeBotApi

TOKEN = "123456:TEST-token"
SECRET = "test-webhook-secret_0123"
WEBHOOK = "/api/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

# Unique across runs too, so that rows left by an aborted run never collide.
_update_ids = itertools.count(int(time.time() * 1000) % 1_000_000_000)
_message_ids = itertools.count(1)


def bot_env(fake: FakeBotApi, **extra: str) -> dict[str, str]:
    """Environment for worker and relay processes talking to the fake."""
    return {
        "TELEGRAM_NOTIFY_BOT_TOKEN": TOKEN,
        "TELEGRAM_NOTIFY_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_BASE_URL": fake.url,
        **extra,
    }


def _user(user_id: int, language: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": "Ann",
        "last_name": "Lee",
        "language_code": language,
    }


def message_update(
    chat_id: int, text: str, *, language: str = "en", update_id: int | None = None
) -> dict[str, Any]:
    """What Telegram posts for a private text message (commands carry a bot_command entity)."""
    message: dict[str, Any] = {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Ann"},
        "from": _user(chat_id, language),
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    if update_id is None:
        update_id = next(_update_ids)
    return {"update_id": update_id, "message": message}


def contact_update(
    chat_id: int, phone: str, *, owner_id: int | None, language: str = "en"
) -> dict[str, Any]:
    """A shared contact; ``owner_id`` is the contact's user_id (the sender's own: ``chat_id``)."""
    contact: dict[str, Any] = {"phone_number": phone, "first_name": "Ann", "last_name": "Lee"}
    if owner_id is not None:
        contact["user_id"] = owner_id
    return {
        "update_id": next(_update_ids),
        "message": {
            "message_id": next(_message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Ann"},
            "from": _user(chat_id, language),
            "contact": contact,
        },
    }


def post_update(client: Any, update: dict[str, Any], *, secret: str | None = SECRET) -> Any:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return client.post(
        WEBHOOK, data=json.dumps(update), content_type="application/json", headers=headers
    )
