"""One-shot calls that configure the bot at Telegram: webhook registration and the bot's username.

Used by the ``set_webhook``, ``delete_webhook`` and ``telegram_link`` commands. They go through
python-telegram-bot's ``Bot`` pointed at ``TELEGRAM_API_BASE_URL``; each runs its own event loop
(``asyncio.run``), which is fine for a command that makes a couple of calls and exits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from django.conf import settings
from telegram import Bot
from telegram.error import TelegramError

#: What the bot subscribes to: private messages only (commands and shared contacts).
ALLOWED_UPDATES = ["message"]
#: Where Telegram posts updates, under ``API_BASE_URL``.
WEBHOOK_PATH = "/api/telegram/webhook"

T = TypeVar("T")


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


def _call(work: Callable[[Bot], Awaitable[T]], token: str) -> T:
    async def run() -> T:
        # Entering the bot calls getMe, which also proves the token is valid.
        async with Bot(token, base_url=f"{settings.TELEGRAM_API_BASE_URL}/bot") as bot:
            return await work(bot)

    try:
        return asyncio.run(run())
    except TelegramError as exc:
        message = " ".join(str(exc.message).split())
        raise BotSetupError(
            f"Telegram Bot API at {settings.TELEGRAM_API_BASE_URL} refused: {message}"
        ) from None


def webhook_register(*, drop_pending_updates: bool = False) -> str:
    """Point the bot's webhook at this deployment; returns the URL registered."""
    token, secret, url = _token(), _secret(), webhook_url()

    async def work(bot: Bot) -> bool:
        return await bot.set_webhook(
            url=url,
            secret_token=secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=drop_pending_updates,
        )

    _call(work, token)
    return url


def webhook_unregister(*, drop_pending_updates: bool = False) -> None:
    """Remove the bot's webhook (Telegram then keeps updates for up to a day)."""
    token = _token()

    async def work(bot: Bot) -> bool:
        return await bot.delete_webhook(drop_pending_updates=drop_pending_updates)

    _call(work, token)


def bot_username() -> str:
    """The bot's @username (without the @), from getMe."""
    token = _token()

    async def work(bot: Bot) -> str:
        return bot.username

    return _call(work, token)
