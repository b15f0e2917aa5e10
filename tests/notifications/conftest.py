"""Fixtures of the customer bot tests: the fake Bot API, bot settings, a clean limiter."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.fakes.telegram_bot_api import FakeBotApi
from tests.notifications.updates import SECRET, TOKEN


@pytest.fixture
def fake_api() -> Iterator[FakeBotApi]:
    """The fake Bot API with Telegram's limits (30 messages/s per bot, 1/s per chat)."""
    with FakeBotApi() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _limiter_clean() -> None:
    """The shared limiter lives in Redis; a previous test's reservations must not delay this one."""
    url = os.environ.get("REDIS_URL")
    if url:
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter("tg:rl:*"))
        if keys:
            client.delete(*keys)


@pytest.fixture
def bot_settings(settings: Any, fake_api: FakeBotApi) -> Any:
    """This process talks to the fake (commands, in-process processing)."""
    settings.TELEGRAM_NOTIFY_BOT_TOKEN = TOKEN
    settings.TELEGRAM_NOTIFY_WEBHOOK_SECRET = SECRET
    settings.TELEGRAM_API_BASE_URL = fake_api.url
    return settings
