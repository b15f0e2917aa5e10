"""``telegram_link_reset``: drops one chat's open link request and nothing else; one-line
answers (runbook 003 §2.4)."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from notifications.models import TelegramLinkRequest
from notifications.selectors import link_request_get
from notifications.services import telegram_link_request_open
from platform_ops.management.commands.telegram_link_reset import Command
from tests.factories import make_merchant

pytestmark = pytest.mark.django_db


def test_drops_the_one_chat_and_leaves_the_others(capsys):
    cafe, shop = make_merchant("Cafe").merchant, make_merchant("Shop").merchant
    telegram_link_request_open(chat_id=501, user_id=501, merchant=cafe)
    telegram_link_request_open(chat_id=502, user_id=502, merchant=shop)

    call_command("telegram_link_reset", "--chat-id", "501")

    out = capsys.readouterr().out.strip()
    assert out.startswith("chat 501: link request for Cafe (opened ")
    assert out.endswith("dropped; the user starts again with the merchant's link")
    assert "\n" not in out
    assert link_request_get(chat_id=501) is None
    other = link_request_get(chat_id=502)
    assert other is not None and other.merchant == shop


def test_a_chat_without_an_open_request_is_one_line_and_changes_nothing():
    telegram_link_request_open(chat_id=503, user_id=503, merchant=make_merchant("Cafe").merchant)
    with pytest.raises(CommandError) as refused:
        call_command("telegram_link_reset", "--chat-id", "504")
    assert str(refused.value) == "chat 504 has no open link request: nothing to reset"
    assert list(TelegramLinkRequest.objects.values_list("chat_id", flat=True)) == [503]


def test_help_and_a_non_numeric_chat_id():
    parser = Command().create_parser("manage.py", "telegram_link_reset")
    assert "--chat-id" in parser.format_help()
    assert "Linked cards stay linked" in parser.format_help()
    with pytest.raises(CommandError, match="invalid int value: 'abc'"):
        call_command("telegram_link_reset", "--chat-id", "abc")
