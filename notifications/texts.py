# Russian texts are Cyrillic on purpose: ruff's look-alike check does not apply here.
# ruff: noqa: RUF001
"""Customer-facing Telegram texts in Russian and English, chosen by the user's language code.

Notifications (one per outbox event) use the language stored on the customer when the chat was
linked; bot replies use the language of the message being answered. Anything but Russian gets
English.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Language = str  # "ru" or "en"


def language_of(code: str | None) -> Language:
    return "ru" if (code or "").lower().startswith("ru") else "en"


def money(amount_minor: int) -> str:
    sign = "-" if amount_minor < 0 else ""
    amount_minor = abs(amount_minor)
    return f"{sign}{amount_minor // 100}.{amount_minor % 100:02d}"


def points(n: int, language: Language) -> str:
    """``n`` with the word for points, declined in Russian (1 балл, 2 балла, 5 баллов)."""
    if language != "ru":
        return f"{n} point" if abs(n) == 1 else f"{n} points"
    tail = abs(n) % 100
    if 11 <= tail <= 14:
        word = "баллов"
    elif tail % 10 == 1:
        word = "балл"
    elif 2 <= tail % 10 <= 4:
        word = "балла"
    else:
        word = "баллов"
    return f"{n} {word}"


# --- notifications (outbox events) ---------------------------------------------------------


def _sentences(lang: Language, head: str, changes: list[tuple[int, str, str]], balance: int) -> str:
    """``head``, one sentence per non-zero change (templates ``{points}``: ru, en), the balance."""
    parts = [head]
    for count, ru, en in changes:
        if count:
            parts.append((ru if lang == "ru" else en).format(points=points(count, lang)))
    label = "Баланс" if lang == "ru" else "Balance"
    parts.append(f"{label}: {points(balance, lang)}.")
    return " ".join(parts)


def _purchase_committed(data: dict[str, Any], lang: Language) -> str:
    amount, order = money(int(data.get("amount_minor", 0))), data.get("order_id", "")
    head = f"Покупка {order} на {amount}." if lang == "ru" else f"Purchase {order}: {amount}."
    changes = [
        (int(data.get("earned_points", 0)), "Начислено {points}.", "You earned {points}."),
        (int(data.get("redeemed_points", 0)), "Списано {points}.", "You spent {points}."),
    ]
    return _sentences(lang, head, changes, int(data.get("balance_points", 0)))


def _purchase_refunded(data: dict[str, Any], lang: Language) -> str:
    purchase = data.get("purchase") or {}
    order = data.get("order_id") or purchase.get("order_id", "")
    amount = money(int(data.get("amount_minor", 0)))
    head = (
        f"Возврат {amount} по заказу {order}."
        if lang == "ru"
        else f"Refund of {amount} for order {order}."
    )
    changes = [
        (
            int(data.get("redeemed_points_returned", 0)),
            "Возвращено {points}.",
            "{points} returned.",
        ),
        (int(data.get("earned_points_reversed", 0)), "Списано {points}.", "{points} taken back."),
    ]
    return _sentences(lang, head, changes, int(data.get("balance_points", 0)))


def _points_adjusted(data: dict[str, Any], lang: Language) -> str:
    delta = int(data.get("points", 0))
    reason = str(data.get("reason", "")).strip()
    balance = points(int(data.get("balance_points", 0)), lang)
    if lang == "ru":
        head = (
            f"Начислено {points(delta, lang)}" if delta > 0 else f"Списано {points(-delta, lang)}"
        )
        return f"{head}{f' ({reason})' if reason else ''}. Баланс: {balance}."
    head = (
        f"You got {points(delta, lang)}" if delta > 0 else f"{points(-delta, lang)} were taken off"
    )
    return f"{head}{f' ({reason})' if reason else ''}. Balance: {balance}."


def _points_expired(data: dict[str, Any], lang: Language) -> str:
    gone = points(int(data.get("points", 0)), lang)
    balance = points(int(data.get("balance_points", 0)), lang)
    if lang == "ru":
        return f"Сгорело {gone}. Баланс: {balance}."
    return f"{gone} expired. Balance: {balance}."


def _points_expiring_soon(data: dict[str, Any], lang: Language) -> str:
    soon = points(int(data.get("points", 0)), lang)
    when = str(data.get("expires_at", ""))[:10]
    balance = points(int(data.get("balance_points", 0)), lang)
    if lang == "ru":
        return f"{soon} сгорят {when}. Потратьте их до этой даты. Баланс: {balance}."
    return f"{soon} expire on {when}; spend them before then. Balance: {balance}."


def _telegram_linked(data: dict[str, Any], lang: Language) -> str:
    balance = points(int(data.get("balance_points", 0)), lang)
    if lang == "ru":
        return (
            f"Карта лояльности привязана. Баланс: {balance}. "
            "На кассе отправьте /code и назовите код кассиру."
        )
    return (
        f"Your loyalty card is linked. Balance: {balance}. "
        "At the register, send /code and show the code."
    )


def _endpoint_alert(data: dict[str, Any], lang: Language) -> str:
    """A merchant's alert on their own endpoint (``outbox.chat_messages``). Not a customer's
    message: the transport knows no customer language, so the alert carries the language of the
    staff member who set it."""
    lang = language_of(data.get("language") or lang)
    url, condition = data.get("endpoint_url", ""), data.get("condition", "")
    if condition == "failing":
        minutes = int(data.get("minutes", 0))
        if lang == "ru":
            return f"Вебхук {url} не принимает события уже {minutes} мин. Проверьте приёмник."
        return f"Webhook {url} has been failing for {minutes} min. Check your receiver."
    dead = int(data.get("dead", 0))
    if lang == "ru":
        return (
            f"Вебхук {url}: недоставленных событий (dead): {dead}. "
            "Их можно отправить заново в портале."
        )
    return f"Webhook {url}: {dead} dead deliveries. Replay them from the portal."


_NOTIFICATIONS: dict[str, Callable[[dict[str, Any], Language], str]] = {
    "purchase.committed": _purchase_committed,
    "purchase.refunded": _purchase_refunded,
    "points.adjusted": _points_adjusted,
    "points.expired": _points_expired,
    "points.expiring_soon": _points_expiring_soon,
    "customer.telegram_linked": _telegram_linked,
    "endpoint.alert": _endpoint_alert,
}


def notification_text(event_type: str, data: dict[str, Any], language: str) -> str:
    """The message for one outbox event; :class:`KeyError` for types customers never get."""
    return _NOTIFICATIONS[event_type](data, language_of(language))


# --- bot replies ---------------------------------------------------------------------------

_REPLIES: dict[str, dict[Language, str]] = {
    "merchant_linked": {
        "en": "Done: this chat now gets {merchant}'s webhook alerts.",
        "ru": "Готово: этот чат будет получать оповещения {merchant} о вебхуках.",
    },
    "merchant_code_bad": {
        "en": "That code is unknown, used or expired. Get a new one in the portal (Alerts).",
        "ru": "Код неверный, уже использован или устарел. Получите новый в портале (Оповещения).",
    },
    "help": {
        "en": (
            "Commands:\n/balance - your points\n/code - a one-time code for the register\n"
            "/stop - unlink your card and stop messages"
        ),
        "ru": (
            "Команды:\n/balance - ваши баллы\n/code - одноразовый код для кассы\n"
            "/stop - отвязать карту и не получать сообщений"
        ),
    },
    "not_linked": {
        "en": "No loyalty card is linked to this chat. Open the Telegram link your shop gave you.",
        "ru": "К этому чату не привязана карта. Откройте ссылку на бота, которую дал магазин.",
    },
    "link_unknown": {
        "en": "This link is not valid any more. Ask the shop for its current link.",
        "ru": "Эта ссылка больше не действует. Попросите в магазине актуальную ссылку.",
    },
    "ask_phone": {
        "en": "To link your {merchant} loyalty card, share your phone number with the button.",
        "ru": "Чтобы привязать карту {merchant}, отправьте свой номер телефона кнопкой ниже.",
    },
    "share_button": {"en": "Share my phone number", "ru": "Отправить мой номер"},
    "already_linked": {
        "en": "Your {merchant} card is already linked to this chat.",
        "ru": "Карта {merchant} уже привязана к этому чату.",
    },
    "contact_not_own": {
        "en": "Please share your own phone number with the button below.",
        "ru": "Пожалуйста, отправьте свой собственный номер кнопкой ниже.",
    },
    "contact_no_request": {
        "en": "Open your shop's Telegram link first, then share your phone number.",
        "ru": "Сначала откройте ссылку на бота от магазина, затем отправьте номер.",
    },
    "contact_invalid": {
        "en": "This phone number does not look valid. Please share another one.",
        "ru": "Этот номер не похож на настоящий. Отправьте, пожалуйста, другой.",
    },
    "linked": {
        "en": "Done: your {merchant} card is linked.",
        "ru": "Готово: карта {merchant} привязана.",
    },
    "balance": {
        "en": (
            "{merchant}: {balance}. Tier: {tier}. Pending: {pending}. "
            "Expiring within {days} days: {expiring}."
        ),
        "ru": (
            "{merchant}: {balance}. Уровень: {tier}. Ожидают начисления: {pending}. "
            "Сгорят в ближайшие {days} дн.: {expiring}."
        ),
    },
    "no_tier": {"en": "none", "ru": "нет"},
    "code": {
        "en": (
            "{merchant}: your code is {code}. Show it at the register; "
            "it works once, for {minutes} minutes."
        ),
        "ru": (
            "{merchant}: ваш код {code}. Покажите его на кассе; "
            "он действует один раз, {minutes} мин."
        ),
    },
    # --- site modes (notifications/bot.py, "Modes") ---
    "mode_maintenance": {
        "en": (
            "The service is under maintenance for a short while. Your points are safe; "
            "please try again in a few minutes."
        ),
        "ru": (
            "Сервис ненадолго на техническом обслуживании. Ваши баллы в сохранности; "
            "попробуйте, пожалуйста, через несколько минут."
        ),
    },
    "mode_read_only": {
        "en": (
            "Changes are paused for a short while, so this cannot be done right now "
            "(your balance still shows with /balance). Please try again in a few minutes."
        ),
        "ru": (
            "Изменения ненадолго приостановлены, поэтому сейчас это сделать нельзя "
            "(баланс по-прежнему показывает /balance). Попробуйте через несколько минут."
        ),
    },
    "stopped": {
        "en": (
            "Your card is unlinked; you will get no more messages. "
            "Open the shop's link to link it again."
        ),
        "ru": (
            "Карта отвязана, сообщений больше не будет. "
            "Чтобы привязать снова, откройте ссылку магазина."
        ),
    },
}


def reply_text(key: str, language: str, **values: Any) -> str:
    return _REPLIES[key][language_of(language)].format(**values)


def code_display(code: str) -> str:
    """A nine-digit code in groups of three, easier to read out (the API ignores the spaces)."""
    return " ".join(code[i : i + 3] for i in range(0, len(code), 3))
