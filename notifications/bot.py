"""The customer bot's conversation: one Telegram update in, the replies to send out.

Updates are parsed into python-telegram-bot objects (``telegram.Update.de_json``) and handled
synchronously; the bot runs in webhook mode only (``set_webhook``), never polling. Handling writes
through the loyalty services and returns :class:`Reply` objects; the caller
(:mod:`notifications.inbound`) commits the writes together with "processed" and only then sends
the replies, so a reply never announces something that was rolled back.

Linking a card
    Each merchant has a deep link ``https://t.me/<bot_username>?start=<telegram_start_payload>``
    (``manage.py telegram_link --merchant ID`` prints it; the bot username comes from
    ``getMe``). Opening it sends ``/start <payload>``; the bot remembers the chat's wish
    (:class:`~notifications.models.TelegramLinkRequest`) and asks for the phone number with a
    request-contact button. Only the user's own contact is accepted (``contact.user_id`` equal to
    the sender's id): the chat is then linked to the merchant's customer with that phone, who is
    registered when new (:func:`loyalty.services.customer_telegram_link`, which also writes
    ``customer.telegram_linked`` to the outbox, so the customer gets a welcome notification).

Linking a merchant's own chat (webhook alerts)
    The portal shows staff a one-time code (:mod:`notifications.merchant_chats`); ``/merchant
    <code>`` or the deep link ``?start=m-<code>`` links the chat to that merchant for the alerts
    merchants set on their endpoints. A wrong, used or expired code changes nothing.

Commands
    ``/balance`` points, tier, pending points and points expiring soon, per linked card;
    ``/code`` a fresh one-time code per linked card (short-lived, single use) for the register;
    ``/stop`` unlinks every card of the chat; anything else gets the help text. Replies are in
    Russian or English by the sender's ``language_code``. Only private chats are served.

Modes (maintenance, read-only; CONTRACT "Modes")
    The webhook accepts and stores updates in every mode (``platform_ops.modes`` lets it
    through), so the bot can always tell users what is going on. Handling asks the current mode
    through ``settings.NOTIFICATIONS_SITE_MODES`` (a dotted path the composition root points at
    ``platform_ops.selectors.site_modes_current``: the channel layer does not import the
    interfaces) and decides per command:

    * maintenance: every message gets the short maintenance notice; nothing is read or written.
    * read-only: reads are served (``/balance``, ``/help``, plain text); writes are refused
      politely with the read-only notice and not kept for later (``/start <payload>``, a shared
      contact, ``/code`` (it stores a code), ``/stop``): a link or an unlink carried out minutes
      later, unasked, would surprise more than a "try again in a few minutes".
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string
from telegram import (
    Bot,
    Chat,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
    User,
)

from core.errors import ValidationFailed
from loyalty.models import Customer
from loyalty.selectors import program_for, tier_for
from loyalty.services import (
    CUSTOMER_CODE_TTL,
    customer_code_issue,
    customer_telegram_link,
    customer_telegram_unlink,
    points_expiring_soon,
)
from notifications.merchant_chats import DEEP_LINK_PREFIX, merchant_chat_link
from notifications.selectors import (
    customers_linked_to_chat,
    link_request_get,
    merchant_get_by_start_payload,
)
from notifications.services import telegram_link_request_close, telegram_link_request_open
from notifications.texts import code_display, language_of, points, reply_text

#: "/balance" shows the points whose lots expire within this many days.
EXPIRING_SOON_DAYS = 14


@dataclass(frozen=True)
class Reply:
    """One message to send back."""

    chat_id: int
    text: str
    reply_markup: dict[str, Any] | None = None


def deep_link(*, bot_username: str, start_payload: str) -> str:
    """The merchant's link: opening it starts the bot with ``/start <start_payload>``."""
    return f"https://t.me/{bot_username}?start={start_payload}"


@functools.cache
def _parsing_bot(token: str | None, base_url: str) -> Bot | None:
    # Only used to bind parsed objects to a bot (PTB's convention); nothing is sent through it.
    return Bot(token, base_url=f"{base_url}/bot") if token else None


#: Commands that write (refused in read-only mode); a shared contact writes as well.
WRITING_COMMANDS = frozenset({"/start", "/code", "/stop", "/merchant"})


def _site_modes() -> tuple[bool, bool]:
    """(maintenance, read_only) from the provider the settings name; none configured: neither."""
    provider = getattr(settings, "NOTIFICATIONS_SITE_MODES", None)
    if not provider:
        return False, False
    modes = import_string(provider)()
    return bool(modes.maintenance), bool(modes.read_only)


def _mode_notice(chat_id: int, language: str, *, writes: bool) -> Reply | None:
    """The notice that replaces handling in the current mode, or None to handle as usual."""
    maintenance, read_only = _site_modes()
    if maintenance:
        return Reply(chat_id, reply_text("mode_maintenance", language))
    if read_only and writes:
        return Reply(chat_id, reply_text("mode_read_only", language))
    return None


def update_handle(payload: dict[str, Any]) -> list[Reply]:
    """Handle one update (domain writes happen here); returns the replies to send."""
    update = Update.de_json(
        payload, _parsing_bot(settings.TELEGRAM_NOTIFY_BOT_TOKEN, settings.TELEGRAM_API_BASE_URL)
    )
    message = update.message
    if message is None or message.from_user is None or message.chat.type != Chat.PRIVATE:
        return []  # we subscribe to "message" only; groups and channels are not served
    user = message.from_user
    language = language_of(user.language_code)
    command, _, argument = (message.text or "").strip().partition(" ")
    command = command.split("@", 1)[0].lower()
    writes = message.contact is not None or command in WRITING_COMMANDS
    notice = _mode_notice(message.chat.id, language, writes=writes)
    if notice is not None:
        return [notice]
    if message.contact is not None:
        return [_on_contact(message, user, language)]
    handler = _COMMANDS.get(command, _on_help)
    return [handler(message.chat.id, user, argument.strip(), language)]


def _help(chat_id: int, language: str, *, prefix: str = "") -> Reply:
    text = reply_text("help", language)
    if not customers_linked_to_chat(chat_id=chat_id):
        text = f"{text}\n\n{reply_text('not_linked', language)}"
    return Reply(chat_id, f"{prefix}\n\n{text}" if prefix else text)


def _on_help(chat_id: int, user: User, argument: str, language: str) -> Reply:
    return _help(chat_id, language)


def _share_phone_keyboard(language: str) -> dict[str, Any]:
    button = KeyboardButton(reply_text("share_button", language), request_contact=True)
    return ReplyKeyboardMarkup([[button]], resize_keyboard=True, one_time_keyboard=True).to_dict()


def _on_start(chat_id: int, user: User, argument: str, language: str) -> Reply:
    if not argument:
        return _help(chat_id, language)
    merchant = merchant_get_by_start_payload(payload=argument)
    if merchant is None and argument.startswith(DEEP_LINK_PREFIX):
        return _on_merchant(chat_id, user, argument.removeprefix(DEEP_LINK_PREFIX), language)
    if merchant is None:
        return Reply(chat_id, reply_text("link_unknown", language))
    if any(c.merchant_id == merchant.id for c in customers_linked_to_chat(chat_id=chat_id)):
        return _help(
            chat_id, language, prefix=reply_text("already_linked", language, merchant=merchant.name)
        )
    telegram_link_request_open(chat_id=chat_id, user_id=user.id, merchant=merchant)
    return Reply(
        chat_id,
        reply_text("ask_phone", language, merchant=merchant.name),
        _share_phone_keyboard(language),
    )


def _on_contact(message: Message, user: User, language: str) -> Reply:
    chat_id = message.chat.id
    contact = message.contact
    assert contact is not None
    request = link_request_get(chat_id=chat_id)
    if request is None:
        return Reply(
            chat_id, reply_text("contact_no_request", language), ReplyKeyboardRemove().to_dict()
        )
    # A forwarded or picked contact card carries someone else's user_id (or none): only the
    # sender's own number, sent with the request-contact button, proves the phone is theirs.
    if contact.user_id is None or contact.user_id != user.id or request.user_id != user.id:
        return Reply(
            chat_id, reply_text("contact_not_own", language), _share_phone_keyboard(language)
        )
    phone = contact.phone_number.strip()
    if not phone.startswith("+"):
        phone = f"+{phone}"  # Telegram sends international digits, sometimes without the plus
    name = " ".join(part for part in (contact.first_name, contact.last_name) if part)
    try:
        customer_telegram_link(
            merchant=request.merchant,
            phone=phone,
            chat_id=chat_id,
            name=name,
            language=user.language_code or "",
        )
    except ValidationFailed:
        return Reply(
            chat_id, reply_text("contact_invalid", language), _share_phone_keyboard(language)
        )
    telegram_link_request_close(chat_id=chat_id)
    linked = reply_text("linked", language, merchant=request.merchant.name)
    text = f"{linked}\n\n{reply_text('help', language)}"
    return Reply(chat_id, text, ReplyKeyboardRemove().to_dict())


def _balance_line(customer: Customer, language: str) -> str:
    program = program_for(customer.merchant)
    tier = tier_for(program=program, lifetime_spend_minor=customer.lifetime_spend_minor)
    expiring = points_expiring_soon(customer=customer, within=timedelta(days=EXPIRING_SOON_DAYS))
    return reply_text(
        "balance",
        language,
        merchant=customer.merchant.name,
        balance=points(customer.balance_points, language),
        tier=tier.name if tier else reply_text("no_tier", language),
        pending=points(customer.pending_points, language),
        days=EXPIRING_SOON_DAYS,
        expiring=points(expiring, language),
    )


def _on_balance(chat_id: int, user: User, argument: str, language: str) -> Reply:
    customers = customers_linked_to_chat(chat_id=chat_id)
    if not customers:
        return Reply(chat_id, reply_text("not_linked", language))
    return Reply(chat_id, "\n".join(_balance_line(c, language) for c in customers))


def _on_code(chat_id: int, user: User, argument: str, language: str) -> Reply:
    customers = customers_linked_to_chat(chat_id=chat_id)
    if not customers:
        return Reply(chat_id, reply_text("not_linked", language))
    minutes = int(CUSTOMER_CODE_TTL.total_seconds() // 60)
    lines = [
        reply_text(
            "code",
            language,
            merchant=c.merchant.name,
            code=code_display(customer_code_issue(customer=c)),
            minutes=minutes,
        )
        for c in customers
    ]
    return Reply(chat_id, "\n".join(lines))


def _on_stop(chat_id: int, user: User, argument: str, language: str) -> Reply:
    telegram_link_request_close(chat_id=chat_id)
    if not customers_linked_to_chat(chat_id=chat_id):
        return Reply(chat_id, reply_text("not_linked", language), ReplyKeyboardRemove().to_dict())
    customer_telegram_unlink(chat_id=chat_id)
    return Reply(chat_id, reply_text("stopped", language), ReplyKeyboardRemove().to_dict())


def _on_merchant(chat_id: int, user: User, argument: str, language: str) -> Reply:
    merchant = merchant_chat_link(code=argument, chat_id=chat_id) if argument else None
    if merchant is None:
        return Reply(chat_id, reply_text("merchant_code_bad", language))
    return Reply(chat_id, reply_text("merchant_linked", language, merchant=merchant.name))


_COMMANDS: dict[str, Callable[[int, User, str, str], Reply]] = {
    "/start": _on_start,
    "/balance": _on_balance,
    "/code": _on_code,
    "/stop": _on_stop,
    "/help": _on_help,
    "/merchant": _on_merchant,
}
