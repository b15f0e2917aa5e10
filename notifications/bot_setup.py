"""One-shot calls that configure the bot at Telegram: webhook registration and the bot's username.

Used by the ``set_webhook``, ``delete_webhook`` and ``telegram_link`` commands. They go through
the platform's one Bot API client (:mod:`outbox.transports.telegram`) at
``TELEGRAM_API_BASE_URL``, like every other call to Telegram; any failure becomes a one-line
:class:`BotSetupError` naming the API and Telegram's reason (never the token).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from outbox.transports import TransportError
from outbox.transports.telegram import BotApi

#: What the bot subscribes to: private messages only (commands and shared contacts).
ALLOWED_UPDATES = ["message"]
#: Where Telegram posts updates, under ``API_BASE_URL``.
WEBHOOK_PATH = "/api/telegram/webhook"


class BotSetupError(Exception):
    """A one-line reason the bot could not be configured (missing setting, API refusal)."""


def webhook_url() -> str:
    return f"{settings.API_BASE_URL.rstrip('/')}{WEBHOOK_PATH}"


def _token() -> str:
    token = settings.TELEGRAM_NOTIFY_BOT_TOKEN
    if not token:
        raise BotSetupError(
            "TELEGRAM_NOTIFY_BOT_TOKEN is not set: put the customer bot's token from @BotFather "
            "in the environment"
        )
    return str(token)


def _secret() -> str:
    secret = settings.TELEGRAM_NOTIFY_WEBHOOK_SECRET
    if not secret:
        raise BotSetupError(
            "TELEGRAM_NOTIFY_WEBHOOK_SECRET is not set: choose a random string of A-Z, a-z, 0-9, "
            "_ and - (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return str(secret)


def _call(method: str, payload: dict[str, Any], token: str) -> Any:
    try:
        return BotApi(token).call(method, payload)
    except TransportError as exc:
        api = settings.TELEGRAM_API_BASE_URL
        if exc.status_code is None:  # no answer: a network error or a timeout
            raise BotSetupError(
                f"Telegram Bot API at {api} unreachable: {exc.error_class}"
            ) from None
        message = " ".join((exc.excerpt or exc.error_class).split())
        raise BotSetupError(f"Telegram Bot API at {api} refused: {message}") from None


def webhook_register(*, drop_pending_updates: bool = False) -> str:
    """Point the bot's webhook at this deployment; returns the URL registered."""
    token, secret, url = _token(), _secret(), webhook_url()
    _call(
        "setWebhook",
        {
            "url": url,
            "secret_token": secret,
            "allowed_updates": ALLOWED_UPDATES,
            "drop_pending_updates": drop_pending_updates,
        },
        token,
    )
    return url


def webhook_unregister(*, drop_pending_updates: bool = False) -> None:
    """Remove the bot's webhook (Telegram then keeps updates for up to a day)."""
    _call("deleteWebhook", {"drop_pending_updates": drop_pending_updates}, _token())


def bot_username() -> str:
    """The bot's @username (without the @), from getMe."""
    me = _call("getMe", {}, _token())
    if not isinstance(me, dict) or not me.get("username"):
        raise BotSetupError(
            f"Telegram Bot API at {settings.TELEGRAM_API_BASE_URL} gave no username for the bot"
        )
    return str(me["username"])
