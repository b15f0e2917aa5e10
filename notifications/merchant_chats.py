"""A merchant's own Telegram chat: linked with a one-time code from the portal, used for the
alerts a merchant sets on their webhook endpoints.

Decision (the simplest honest flow): the portal shows a code (8 characters, 15 minutes, single
use, stored as an HMAC keyed by ``SECRET_KEY``, as customer codes are); a member of staff sends
``/merchant <code>`` to the platform bot or opens ``t.me/<bot>?start=m-<code>``. Whoever holds the
code was signed in to the portal, so the chat that sends it is the merchant's. The chat is
stored on the merchant (``Merchant.telegram_chat_id``, "staff's own chat for operational
notices"): one per merchant, a new link replaces the old one. Customer linking
(``/start <payload>``) is untouched.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from loyalty.models import Merchant
from notifications.models import MerchantChatLinkCode

#: How long a link code may be used.
LINK_CODE_TTL = timedelta(minutes=15)
#: Letters and digits that cannot be mistaken for one another when typed from a screen.
LINK_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
LINK_CODE_LENGTH = 8
#: The deep link's ``start`` payload prefix that marks a merchant link. A customer payload
#: (``token_urlsafe``) may start with it too, so the bot tries the customer link first.
DEEP_LINK_PREFIX = "m-"


def _code_hash(code: str) -> str:
    normalised = code.strip().upper().replace("-", "").replace(" ", "")
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"merchant-chat:{normalised}".encode(), hashlib.sha256).hexdigest()


@transaction.atomic
def merchant_link_code_issue(
    *, merchant: Merchant, now: datetime | None = None
) -> tuple[str, datetime]:
    """A fresh code and its expiry; the merchant's earlier codes stop working (and are
    deleted, used ones too: they serve no purpose, so a merchant has one row at most)."""
    now = now or timezone.now()
    MerchantChatLinkCode.objects.filter(merchant=merchant).delete()
    code = "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(LINK_CODE_LENGTH))
    expires = now + LINK_CODE_TTL
    MerchantChatLinkCode.objects.create(
        merchant=merchant, code_hash=_code_hash(code), expires_at=expires
    )
    return code, expires


def merchant_chat_link(*, code: str, chat_id: int, now: datetime | None = None) -> Merchant | None:
    """Consume ``code`` and link ``chat_id`` to its merchant; None for an unknown, used or
    expired code (nothing changes). Runs in the caller's transaction (the bot's update)."""
    now = now or timezone.now()
    with transaction.atomic():
        row = (
            MerchantChatLinkCode.objects.select_for_update()
            .filter(code_hash=_code_hash(code), used_at=None, expires_at__gt=now)
            .select_related("merchant")
            .first()
        )
        if row is None:
            return None
        row.used_at = now
        row.save(update_fields=["used_at"])
        # The loyalty app has no service for this one field (the operator command sets it the
        # same way); a single-column update leaves the merchant's other fields alone.
        Merchant.objects.filter(id=row.merchant_id).update(telegram_chat_id=chat_id)
        row.merchant.telegram_chat_id = chat_id
        return row.merchant


def merchant_chat_unlink(*, merchant_id: Any) -> bool:
    """Forget the merchant's chat; True when there was one."""
    return bool(
        Merchant.objects.filter(id=merchant_id, telegram_chat_id__isnull=False).update(
            telegram_chat_id=None
        )
    )


def merchant_chat_gone(*, chat_id: int) -> int:
    """The chat blocked the bot (403): merchants linked to it forget it, so their alerts wait
    for a new link instead of dying one by one. Returns how many merchants were unlinked."""
    return Merchant.objects.filter(telegram_chat_id=chat_id).update(telegram_chat_id=None)


def merchant_link_deep_link(*, code: str) -> str | None:
    """``https://t.me/<bot>?start=m-<code>``, or None when the bot cannot be asked its name
    (no token, Telegram unreachable): the ``/merchant <code>`` command works without it."""
    from notifications.bot_setup import BotSetupError, bot_username

    try:
        username = bot_username()
    except BotSetupError:
        return None
    return f"https://t.me/{username}?start={DEEP_LINK_PREFIX}{code}"
