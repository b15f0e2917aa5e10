"""Customer-facing Telegram texts in Russian and English (chosen by the user's language)."""

from __future__ import annotations

from typing import Any

_TEXTS: dict[str, dict[str, str]] = {
    "purchase.committed": {
        "en": "Purchase {order_id}: {amount}. Earned {earned} points, spent {redeemed}. Balance: {balance}.",
        "ru": "Покупка {order_id}: {amount}. Начислено {earned} баллов, списано {redeemed}. Баланс: {balance}.",
    },
    "purchase.refunded": {
        "en": "Refund of {amount} for order {order_id}. Points returned: {returned}, taken back: {reversed}. Balance: {balance}.",
        "ru": "Возврат {amount} по заказу {order_id}. Возвращено баллов: {returned}, списано: {reversed}. Баланс: {balance}.",
    },
    "points.adjusted": {
        "en": "Your points were adjusted by {points} ({reason}). Balance: {balance}.",
        "ru": "Баллы изменены на {points} ({reason}). Баланс: {balance}.",
    },
    "points.expired": {
        "en": "{points} points expired. Balance: {balance}.",
        "ru": "Сгорело {points} баллов. Баланс: {balance}.",
    },
    "customer.telegram_linked": {
        "en": "Your loyalty card is linked. Balance: {balance}. Send /code at the register.",
        "ru": "Карта лояльности привязана. Баланс: {balance}. Отправьте /code на кассе.",
    },
}


def language_of(code: str | None) -> str:
    return "ru" if (code or "").lower().startswith("ru") else "en"


def money(amount_minor: int) -> str:
    return f"{amount_minor // 100}.{amount_minor % 100:02d}"


def notification_text(event_type: str, data: dict[str, Any], language: str) -> str:
    template = _TEXTS[event_type][language_of(language)]
    purchase = data.get("purchase") or {}
    return template.format(
        order_id=data.get("order_id") or purchase.get("order_id", ""),
        amount=money(int(data.get("amount_minor", 0))),
        earned=data.get("earned_points", 0),
        redeemed=data.get("redeemed_points", 0),
        returned=data.get("redeemed_points_returned", 0),
        reversed=data.get("earned_points_reversed", 0),
        balance=data.get("balance_points", 0),
        points=data.get("points", 0),
        reason=data.get("reason", ""),
    )
