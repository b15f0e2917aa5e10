"""Writes of the customer bot: claiming stored updates, finishing them, pending links.

Updates are stored and workers woken in :mod:`notifications.intake`.

An update is claimed by a conditional update (STYLE 7) that takes it only while it is unprocessed
and nobody holds it, so duplicate wake-ups, a redelivered message or the relay's sweep never run
an update twice at the same time; it is marked processed in the same transaction as the domain
writes its handling made, so the effect of an update is applied exactly once.

One chat's updates are processed strictly in ``update_id`` order, while different chats go in
parallel: the claim takes an update only when no earlier update of its chat is still unprocessed
or still being answered (processed, its replies not sent yet: the claim is held until
:func:`telegram_update_release`). That condition is part of the claim's conditional update, so
of two workers racing over a chat's updates exactly one proceeds, and the one finishing an
update hands the chat's next one on (:func:`notifications.actors.process_telegram_update`). A
``/start`` and the contact shared right after it are therefore handled in that order, and their
replies are sent in that order.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from loyalty.models import Merchant
from notifications import metrics
from notifications.models import TelegramLinkRequest, TelegramUpdate

logger = logging.getLogger(__name__)

#: How long a worker holds a claimed update before anyone may take it again.
CLAIM_SECONDS = 60
#: Tries before an update that keeps failing is given up (marked processed with its error).
MAX_ATTEMPTS = 5
#: Wait before the sweep retries a failed update, multiplied by the tries so far.
RETRY_DELAY_SECONDS = 5


def telegram_update_claim(*, update_id: int, now: datetime | None = None) -> TelegramUpdate | None:
    """Take an unprocessed update nobody holds; None when it is done or held by someone else."""
    now = now or timezone.now()
    token = uuid.uuid4()
    # An earlier update of the same chat that is unprocessed, or processed but still held while
    # its replies go out, makes this one wait; its worker hands this one on when done.
    earlier_open = TelegramUpdate.objects.filter(
        chat_id=OuterRef("chat_id"), update_id__lt=OuterRef("update_id")
    ).filter(Q(processed_at=None) | Q(claimed_until__gt=now))
    taken = (
        TelegramUpdate.objects.filter(update_id=update_id, processed_at=None)
        .filter(Q(claimed_until=None) | Q(claimed_until__lt=now))
        .filter(Q(chat_id=None) | ~Exists(earlier_open))
        .update(
            claimed_until=now + timedelta(seconds=CLAIM_SECONDS),
            claim_token=token,
            attempts=F("attempts") + 1,
        )
    )
    if not taken:
        return None
    return TelegramUpdate.objects.get(update_id=update_id, claim_token=token)


def telegram_update_finish(
    *, update: TelegramUpdate, error: str = "", replying: bool = False
) -> bool:
    """Mark a claimed update processed; False when the claim was lost meanwhile.

    Call inside the transaction of the update's domain writes, and roll back on False. With
    ``replying`` the claim stays held (the chat's next update waits) until
    :func:`telegram_update_release` after the replies are sent, or until the claim runs out if
    the worker dies meanwhile.
    """
    held: dict[str, object] = {} if replying else {"claimed_until": None, "claim_token": None}
    done = TelegramUpdate.objects.filter(
        id=update.id, claim_token=update.claim_token, processed_at=None
    ).update(processed_at=timezone.now(), error=error[:300], **held)
    return bool(done)


def telegram_update_release(*, update: TelegramUpdate) -> None:
    """Let the chat's next update go: this one's replies are sent (or given up)."""
    TelegramUpdate.objects.filter(id=update.id, claim_token=update.claim_token).update(
        claimed_until=None, claim_token=None
    )


def telegram_update_fail(*, update: TelegramUpdate, error: str) -> bool:
    """Record a failed try; returns True when the update was given up (too many tries)."""
    now = timezone.now()
    if update.attempts >= MAX_ATTEMPTS:
        telegram_update_finish(
            update=update, error=f"gave up after {update.attempts} tries: {error}"
        )
        metrics.BOT_ERRORS.labels("gave_up").inc()
        logger.error(
            "telegram update given up", extra={"update_id": update.update_id, "error": error}
        )
        return True
    TelegramUpdate.objects.filter(id=update.id, claim_token=update.claim_token).update(
        error=error[:300],
        claimed_until=now + timedelta(seconds=RETRY_DELAY_SECONDS * update.attempts),
        claim_token=None,
    )
    return False


def telegram_updates_purge(*, older_than: timedelta, limit: int = 10_000) -> int:
    """Delete processed updates past retention (their duplicates can no longer arrive)."""
    cutoff = timezone.now() - older_than
    ids = list(
        TelegramUpdate.objects.filter(processed_at__lt=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    if not ids:
        return 0
    deleted, _ = TelegramUpdate.objects.filter(id__in=ids).delete()
    return deleted


def telegram_link_request_open(
    *, chat_id: int, user_id: int, merchant: Merchant
) -> TelegramLinkRequest:
    """Remember that this chat wants a card of ``merchant`` linked (replaces an older request)."""
    request, _ = TelegramLinkRequest.objects.update_or_create(
        chat_id=chat_id,
        defaults={"merchant": merchant, "user_id": user_id, "created_at": timezone.now()},
    )
    return request


def telegram_link_request_close(*, chat_id: int) -> None:
    TelegramLinkRequest.objects.filter(chat_id=chat_id).delete()
