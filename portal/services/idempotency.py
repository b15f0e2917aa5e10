"""Idempotency-Key for the portal's money writes (refunds), with the integration API's rules:
the same key and body answer the first success again; the same key with another body is 422;
a retry while the first still runs is 409 with ``Retry-After``. Only successes are stored, so
after an error the request may be corrected and sent again with the same key.

The answer (and the audit row) are written by :meth:`PortalKeyClaim.complete`, which the domain
service calls as the last step of its own transaction: they commit with the write or not at all.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import ApplicationError, Conflict, ValidationFailed
from core.fast_sql import WriteBatch
from portal.models import IdempotencyRecord, StaffUser

ResultT = TypeVar("ResultT")
HEADER = "Idempotency-Key"
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
#: How long a claim may run before a retry may take it over.
LEASE = timedelta(seconds=30)


class IdempotencyMismatch(ApplicationError):
    """The key was used before with another request body."""

    status = 422
    slug = "idempotency-key-reused"
    title = "Idempotency-Key reused with another request"


class IdempotencyInProgress(Conflict):
    """The first request with this key is still running."""

    slug = "idempotency-in-progress"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.retry_after = 1


class ClaimLost(ApplicationError):
    """The claim ran out and a retry took the key over: this write must roll back."""

    status = 409
    slug = "idempotency-claim-lost"
    title = "The request took too long"


def idempotency_key_check(key: str | None) -> str:
    if key is None:
        msg = "Send an Idempotency-Key header with a unique value per request (e.g. a UUID)."
        raise ValidationFailed(f"Idempotency-Key header is required. {msg}", errors={HEADER: [msg]})
    if not _KEY.fullmatch(key):
        msg = "Use 1 to 255 printable ASCII characters without spaces, e.g. a UUID."
        raise ValidationFailed(f"Idempotency-Key is malformed. {msg}", errors={HEADER: [msg]})
    return key


@dataclass
class Replay:
    status_code: int
    body: Any


class PortalKeyClaim(Generic[ResultT]):
    """A claimed key (:class:`core.idempotency.Idempotency`): completes with the write."""

    def __init__(
        self,
        record_id: int,
        token: uuid.UUID,
        render: Callable[[ResultT], Any],
        audit: Callable[[ResultT], None],
    ) -> None:
        self.record_id, self.token, self.render, self.audit = record_id, token, render, audit
        self.body: Any = None

    def enter(self) -> None:
        """Nothing to do: the portal claims its key before the write (:func:`idempotency_claim`)."""

    def complete(self, result: ResultT) -> None:
        self.body = self.render(result)
        stored = IdempotencyRecord.objects.filter(id=self.record_id, lease_token=self.token).update(
            status_code=201, response=self.body, lease_token=None, lease_expires_at=None
        )
        if not stored:
            raise ClaimLost(
                "Another try of this request took over; send it again to see its result."
            )
        self.audit(result)

    def complete_in(self, writes: WriteBatch, result: ResultT) -> None:
        """:meth:`complete` now, in the caller's transaction (not folded into ``writes``)."""
        del writes
        self.complete(result)

    def release(self) -> None:
        """The write failed: forget the key so that a corrected request may use it."""
        IdempotencyRecord.objects.filter(id=self.record_id, lease_token=self.token).delete()


def idempotency_claim(
    *,
    user: StaffUser,
    key: str,
    body: dict[str, Any],
    render: Callable[[ResultT], Any],
    audit: Callable[[ResultT], None],
) -> PortalKeyClaim[ResultT] | Replay:
    """Claim ``key`` for ``body``, or the stored answer of its first success."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    now = timezone.now()
    token = uuid.uuid4()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                merchant_id=user.merchant_id,
                key=key,
                request_hash=digest,
                lease_token=token,
                lease_expires_at=now + LEASE,
            )
        return PortalKeyClaim(record.id, token, render, audit)
    except IntegrityError:
        pass
    with transaction.atomic():
        record = IdempotencyRecord.objects.select_for_update().get(
            merchant_id=user.merchant_id, key=key
        )
        if record.request_hash != digest:
            raise IdempotencyMismatch(
                "This Idempotency-Key was used with another request; use a new key."
            )
        if record.status_code is not None:
            return Replay(record.status_code, record.response)
        if record.lease_expires_at and record.lease_expires_at > now:
            raise IdempotencyInProgress(
                "The first request with this Idempotency-Key is still running; retry shortly."
            )
        IdempotencyRecord.objects.filter(id=record.id).update(
            lease_token=token, lease_expires_at=now + LEASE
        )
    return PortalKeyClaim(record.id, token, render, audit)


#: How long a stored answer replays retries that carry the same key (as the integration API).
IDEMPOTENCY_TTL = timedelta(hours=24)


def portal_idempotency_purge(*, now: Any = None, batch: int = 5000) -> int:
    """Forget keys older than 24 h in batches (a relay periodic job); returns rows deleted."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_TTL
    deleted = 0
    while True:
        ids = list(
            IdempotencyRecord.objects.filter(created_at__lt=cutoff).values_list("id", flat=True)[
                :batch
            ]
        )
        if not ids:
            return deleted
        deleted += IdempotencyRecord.objects.filter(id__in=ids).delete()[0]
