"""``webhook_info`` against the fake Bot API: what Telegram holds for the bot's webhook."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.notifications.updates import TOKEN


def _run(*args: str) -> str:
    out = StringIO()
    call_command("webhook_info", *args, stdout=out)
    return out.getvalue().strip()


def test_shows_the_registered_webhook(bot_settings, fake_api) -> None:
    assert _run().splitlines()[0] == "url: (none: no webhook registered; run set_webhook)"
    bot_settings.API_BASE_URL = "https://loyalty.example.com/"
    call_command("set_webhook", stdout=StringIO())
    lines = dict(line.split(": ", 1) for line in _run().splitlines())
    assert lines["url"] == "https://loyalty.example.com/api/telegram/webhook"
    assert lines["pending_update_count"] == "0"
    assert lines["last_error_message"] == "-"
    assert lines["allowed_updates"] == "message"
    raw = json.loads(_run("--json"))
    assert raw["url"] == "https://loyalty.example.com/api/telegram/webhook"
    assert fake_api.request_log("getWebhookInfo")
    assert TOKEN not in _run() and TOKEN not in _run("--json")


def test_errors_are_one_line(bot_settings, fake_api) -> None:
    fake_api.configure(tokens=["999:other"])
    with pytest.raises(CommandError) as refused:
        _run()
    assert str(refused.value).startswith(f"Telegram Bot API at {fake_api.url} refused:")
    assert "\n" not in str(refused.value)
    bot_settings.TELEGRAM_NOTIFY_BOT_TOKEN = None
    with pytest.raises(CommandError) as missing:
        _run()
    assert str(missing.value) == "TELEGRAM_NOTIFY_BOT_TOKEN is not set"
