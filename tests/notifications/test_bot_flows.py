"""The customer bot's conversations end to end: updates posted to the real webhook endpoint, a
real Dramatiq worker process (queue "inbound") handling them, replies read at the fake Bot API.
The relay runs too, so that the ``customer.telegram_linked`` notification arrives as well."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.errors import CodeInvalid
from loyalty.models import Customer, LoyaltyProgram, TelegramStatus, Tier
from loyalty.services import customer_code_redeem
from notifications.models import TelegramUpdate
from outbox.models import OutboxEvent
from tests.factories import make_customer, make_merchant
from tests.fixtures.processes import wait_until
from tests.notifications.updates import bot_env, contact_update, message_update, post_update

pytestmark = pytest.mark.slow


class Chat:
    """One user's chat: post what they send, return what the bot answered next."""

    def __init__(self, client, fake, chat_id: int, language: str = "en") -> None:
        self.client, self.fake, self.chat_id, self.language = client, fake, chat_id, language
        self.seen = 0

    def _next(self, n: int = 1):
        got = self.fake.wait_for_messages(self.seen + n, timeout=15, chat_id=self.chat_id)
        new = got[self.seen : self.seen + n]
        self.seen += n
        return new if n > 1 else new[0]

    def send(self, text: str, replies: int = 1):
        update = message_update(self.chat_id, text, language=self.language)
        assert post_update(self.client, update).status_code == 200
        return self._next(replies)

    def share(self, phone: str, *, owner_id: int | None = None, replies: int = 1):
        owner = self.chat_id if owner_id is None else owner_id
        update = contact_update(self.chat_id, phone, owner_id=owner, language=self.language)
        assert post_update(self.client, update).status_code == 200
        return self._next(replies)


def _keyboard_asks_contact(message) -> bool:
    markup = message.reply_markup or {}
    return any(b.get("request_contact") for row in markup.get("keyboard", []) for b in row)


def test_new_customer_links_and_uses_every_command(stack, client, bot_settings, fake_api) -> None:
    setup = make_merchant("Cafe")
    stack.worker(**bot_env(fake_api))
    stack.relay(**bot_env(fake_api))
    chat = Chat(client, fake_api, 5001)

    asked = chat.send(f"/start {setup.merchant.telegram_start_payload}")
    assert asked.text.startswith("To link your Cafe loyalty card, share your phone number")
    assert _keyboard_asks_contact(asked)

    # The reply and the customer.telegram_linked notification (through the outbox), whichever
    # got its send slot first.
    both = chat.share("+79161112233", replies=2)
    linked, welcome = sorted(both, key=lambda m: not m.text.startswith("Done"))
    assert linked.text.startswith("Done: your Cafe card is linked.")
    assert linked.reply_markup == {"remove_keyboard": True}
    assert welcome.text.startswith("Your loyalty card is linked. Balance: 0 points.")
    customer = Customer.objects.get(merchant=setup.merchant, phone="+79161112233")
    assert customer.telegram_chat_id == 5001 and customer.telegram_status == TelegramStatus.LINKED
    assert customer.telegram_language == "en" and customer.name == "Ann Lee"
    assert OutboxEvent.objects.filter(event_type="customer.telegram_linked").count() == 1

    assert chat.send("/balance").text == (
        "Cafe: 0 points. Tier: none. Pending: 0 points. Expiring within 14 days: 0 points."
    )

    shown = chat.send("/code").text
    match = re.fullmatch(
        r"Cafe: your code is (\d{3} \d{3} \d{3})\. Show it at the register; "
        r"it works once, for 5 minutes\.",
        shown,
    )
    assert match, shown
    code = match.group(1)
    # Short-lived: five minutes from now it no longer works (and trying does not use it up).
    with pytest.raises(CodeInvalid):
        customer_code_redeem(
            merchant=setup.merchant, code=code, now=timezone.now() + timedelta(seconds=301)
        )
    # Single use: the register's first call resolves the customer, the second is refused.
    assert customer_code_redeem(merchant=setup.merchant, code=code).customer.id == customer.id
    with pytest.raises(CodeInvalid):
        customer_code_redeem(merchant=setup.merchant, code=code)

    assert chat.send("what is this?").text.startswith("Commands:\n/balance")

    assert chat.send("/stop").text.startswith("Your card is unlinked")
    customer.refresh_from_db()
    assert customer.telegram_status == TelegramStatus.NONE
    assert chat.send("/balance").text.startswith("No loyalty card is linked")
    wait_until(lambda: not TelegramUpdate.objects.filter(processed_at=None).exists())


def test_existing_customer_links_by_phone_in_russian(stack, client, bot_settings, fake_api) -> None:
    setup = make_merchant("Кофейня")
    LoyaltyProgram.objects.filter(merchant=setup.merchant).update(expiry_days=7)
    Tier.objects.create(
        program=setup.merchant.program, name="Gold", min_lifetime_spend_minor=0, earn_bps=700
    )
    existing = make_customer(setup.merchant, points=121, phone="+79165554433")
    before = Customer.objects.count()
    stack.worker(**bot_env(fake_api))
    chat = Chat(client, fake_api, 6001, language="ru")

    asked = chat.send(f"/start {setup.merchant.telegram_start_payload}")
    assert asked.text.startswith("Чтобы привязать карту Кофейня")

    # Someone else's contact card (forwarded, or picked from the address book) is refused.
    refused = chat.share("+79160000000", owner_id=424242)
    assert refused.text.startswith("Пожалуйста, отправьте свой собственный номер")
    assert _keyboard_asks_contact(refused)
    assert not Customer.objects.filter(telegram_chat_id=6001).exists()

    # Telegram sends the user's own number, here without the plus.
    assert chat.share("79165554433").text.startswith("Готово: карта Кофейня привязана.")
    existing.refresh_from_db()
    assert existing.telegram_chat_id == 6001 and existing.telegram_status == TelegramStatus.LINKED
    assert existing.telegram_language == "ru"
    assert Customer.objects.count() == before  # matched by phone, nobody registered

    assert chat.send("/balance").text == (
        "Кофейня: 121 балл. Уровень: Gold. Ожидают начисления: 0 баллов. "
        "Сгорят в ближайшие 14 дн.: 121 балл."
    )
    assert chat.send("/start nonsense").text.startswith("Эта ссылка больше не действует")


def test_contact_without_start_is_not_linked(stack, client, bot_settings, fake_api) -> None:
    make_merchant("Cafe")
    stack.worker(**bot_env(fake_api))
    chat = Chat(client, fake_api, 7001)
    assert chat.share("+79161234567").text.startswith("Open your shop's Telegram link first")
    assert not Customer.objects.filter(telegram_chat_id=7001).exists()
    assert chat.send("/code").text.startswith("No loyalty card is linked")
