"""The customer bot's state: inbound updates (the truth behind the inbound queue), pending links.

A :class:`TelegramUpdate` row is written inside the webhook request, before Telegram gets its
200, so an acknowledged update is never lost: the Dramatiq message sent after the commit is only
a wake-up, and the relay's sweep re-sends it for rows nobody finished (Redis was down, a worker
died). ``update_id`` is unique, so Telegram re-sending an update stores and processes it once.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from loyalty.models import Merchant


class TelegramUpdate(models.Model):
    """One update received on the webhook; processed once (claimed by a conditional update)."""

    update_id = models.BigIntegerField(unique=True)
    payload = models.JSONField()
    #: The chat the update came from (None for kinds we do not subscribe to); for operators.
    chat_id = models.BigIntegerField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    #: A worker holds the update until then; after that anyone may take it again.
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    #: Why the last try failed, or why the update was given up.
    error = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        indexes = [
            # The sweep and the inbound_queue_depth gauge only look at unprocessed rows.
            models.Index(
                fields=["received_at"],
                name="tg_update_unprocessed_idx",
                condition=Q(processed_at=None),
            ),
            models.Index(fields=["processed_at"], name="tg_update_processed_idx"),
        ]

    def __str__(self) -> str:
        return f"update {self.update_id}"


class TelegramLinkRequest(models.Model):
    """A chat that opened a merchant's deep link and has yet to share its phone number."""

    chat_id = models.BigIntegerField(unique=True)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    #: The Telegram user who pressed /start; only their own contact completes the link.
    user_id = models.BigIntegerField()
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"chat {self.chat_id} -> {self.merchant_id}"


class MerchantChatLinkCode(models.Model):
    """A one-time code the portal showed; sent to the bot (``/merchant <code>`` or the deep link
    ``?start=m-<code>``) it links that chat to the merchant (``Merchant.telegram_chat_id``).
    Stored only as a keyed hash."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"link code of {self.merchant_id}"
