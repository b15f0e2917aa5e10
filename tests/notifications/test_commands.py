"""Operator commands of the bot against the fake Bot API: webhook registration, merchant links."""

from __future__ import annotations

import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command, load_command_class

from notifications.texts import money, points
from tests.factories import make_merchant
from tests.notifications.updates import SECRET, TOKEN


def _run(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue().strip()


def test_set_and_delete_webhook(bot_settings, fake_api) -> None:
    bot_settings.API_BASE_URL = "https://loyalty.example.com/"
    assert _run("set_webhook") == "webhook set: https://loyalty.example.com/api/telegram/webhook"
    hook = fake_api.webhook_for(TOKEN)
    assert hook["url"] == "https://loyalty.example.com/api/telegram/webhook"
    assert hook["secret_token"] == SECRET
    assert hook["allowed_updates"] == ["message"]
    assert _run("delete_webhook") == "webhook deleted"
    assert fake_api.webhook_for(TOKEN)["url"] == ""


@pytest.mark.parametrize(
    ("missing", "command", "message"),
    [
        ("TELEGRAM_NOTIFY_BOT_TOKEN", "set_webhook", "TELEGRAM_NOTIFY_BOT_TOKEN is not set"),
        (
            "TELEGRAM_NOTIFY_WEBHOOK_SECRET",
            "set_webhook",
            "TELEGRAM_NOTIFY_WEBHOOK_SECRET is not set",
        ),
        ("TELEGRAM_NOTIFY_BOT_TOKEN", "delete_webhook", "TELEGRAM_NOTIFY_BOT_TOKEN is not set"),
    ],
)
def test_missing_settings_give_one_clear_line(bot_settings, fake_api, missing, command, message):
    setattr(bot_settings, missing, None)
    with pytest.raises(CommandError) as failed:
        _run(command)
    assert str(failed.value).startswith(message)
    assert "\n" not in str(failed.value)
    assert fake_api.request_log() == []


def test_api_refusal_is_one_line(bot_settings, fake_api) -> None:
    fake_api.configure(tokens=["999:other"])  # our token is unknown: 401
    with pytest.raises(CommandError) as failed:
        _run("set_webhook")
    assert str(failed.value).startswith(f"Telegram Bot API at {fake_api.url} refused:")
    assert "\n" not in str(failed.value)


def test_help_explains_the_commands() -> None:
    for name, words in [
        (
            "set_webhook",
            ["API_BASE_URL", "/api/telegram/webhook", "TELEGRAM_NOTIFY_WEBHOOK_SECRET"],
        ),
        ("delete_webhook", ["TELEGRAM_NOTIFY_BOT_TOKEN"]),
        ("telegram_link", ["https://t.me/<bot_username>?start=<payload>", "--merchant"]),
        ("fake_bot_api", ["TELEGRAM_API_BASE_URL=http://127.0.0.1:8081", "--port"]),
    ]:
        command = load_command_class("notifications", name)
        text = command.create_parser("manage.py", name).format_help()
        assert all(word in " ".join(text.split()) for word in words), (name, text)


def test_fake_bot_api_without_a_source_checkout_is_one_line(monkeypatch) -> None:
    # As in the production image, where tests/ is not copied: the import fails.
    monkeypatch.setitem(sys.modules, "tests.fakes.telegram_bot_api", None)
    with pytest.raises(CommandError) as failed:
        _run("fake_bot_api", "--port", "0")
    assert "source checkout" in str(failed.value)
    assert "\n" not in str(failed.value)


@pytest.mark.django_db
def test_telegram_link_prints_the_merchants_deep_link(bot_settings, fake_api) -> None:
    merchant = make_merchant("Cafe").merchant
    link = _run("telegram_link", "--merchant", str(merchant.id))
    assert link == f"https://t.me/fake123456_bot?start={merchant.telegram_start_payload}"
    with pytest.raises(CommandError, match="no merchant"):
        _run("telegram_link", "--merchant", "00000000-0000-0000-0000-000000000000")


def test_texts_decline_points_in_russian() -> None:
    assert [points(n, "ru") for n in (1, 2, 5, 11, 21, 22, 112)] == [
        "1 балл",
        "2 балла",
        "5 баллов",
        "11 баллов",
        "21 балл",
        "22 балла",
        "112 баллов",
    ]
    assert [points(n, "en") for n in (1, 2)] == ["1 point", "2 points"]
    assert money(123456) == "1234.56" and money(5) == "0.05"
