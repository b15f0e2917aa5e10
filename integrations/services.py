"""Integration API writes: API keys and idempotency records.

Idempotency (``Idempotency-Key``) in two steps, chosen so that a key can never double-apply a
write and never stay locked by a request that died:

1. The domain service opens its transaction and, first in it, enters the key
   (:func:`idempotency_enter`, through :meth:`core.idempotency.Idempotency.enter`): ONE
   statement takes a transaction-scoped advisory lock on (merchant, key) without waiting and
   INSERTs the record. The lock decides a race between requests in flight: the loser gets 409
   (still running) at once instead of waiting on the winner's row. A key that already has a
   committed record is decided from it by :func:`idempotency_claim`: the stored response
   (replay), 422 (another body), or a record past its 24 h or left behind with a run-out lease
   taken over. No read-then-write.
2. The service's last step, still in its transaction, completes the claim, which renders the
   answer and calls :func:`idempotency_complete`: the write and the stored response commit
   together or not at all, so a stored response always means the write happened and a missing
   one means it did not. On any error the transaction rolls back with the claim in it: the key
   is free for a corrected retry, and a process killed mid-request leaves nothing behind (its
   connection's transaction is rolled back by PostgreSQL).

Until issue 16 the claim committed first in a transaction of its own (a round trip and a commit
more per write, and a release or a lease to free the key after a failure). Records such a claim
left with a lease are still honoured: 409 while the lease holds, taken over after it ran out
(:func:`idempotency_claim`); :func:`idempotency_complete` only stores the response while its own
lease is still the one on the record, otherwise it rolls its write back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.fast_sql import WriteBatch, model_insert
from core.local_cache import LocalCache
from integrations.errors import IdempotencyInProgress, IdempotencyKeyReused
from integrations.models import ApiKey, IdempotencyRecord
from loyalty.models import Merchant

KEY_PREFIX = "lk_"
SCOPES = ("read", "write")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    plaintext: str


def api_key_issue(
    *, merchant: Merchant, name: str = "default", scopes: tuple[str, ...] = SCOPES
) -> IssuedKey:
    """A new key; the plaintext is returned once and never stored."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        merchant=merchant, name=name, prefix=prefix, secret_hash=_hash(secret), scopes=list(scopes)
    )
    return IssuedKey(api_key=key, plaintext=f"{KEY_PREFIX}{prefix}_{secret}")


def _api_key_cache_seconds() -> float:
    return float(settings.API_KEY_CACHE_SECONDS)


#: Keys by prefix. The bound on revocation: a key revoked, rotated or expired through the
#: services below (and a key or merchant saved through the ORM, see the signals) stops working
#: in this process at once and in the others within about one second (the cache's Redis
#: version); a change made by a plain UPDATE, or while Redis is away, within
#: ``API_KEY_CACHE_SECONDS``. The secret itself is checked against the hash on every request.
api_key_cache: LocalCache[ApiKey | None] = LocalCache("api-keys", max_age=_api_key_cache_seconds)


def _api_key_load(prefix: str) -> ApiKey | None:
    return ApiKey.objects.select_related("merchant").filter(prefix=prefix).first()


def api_key_authenticate(plaintext: str) -> ApiKey | None:
    """The live key for ``plaintext`` or None; the secret is compared in constant time.

    The row comes from :data:`api_key_cache` (one SELECT per key and process every few seconds
    instead of one per request); revocation, expiry and the merchant's state are checked on it
    every time. The returned key is shared by the process's threads: read it, do not change it.
    """
    if not plaintext.startswith(KEY_PREFIX) or "_" not in plaintext[len(KEY_PREFIX) :]:
        return None
    prefix, _, secret = plaintext[len(KEY_PREFIX) :].partition("_")
    key = api_key_cache.get(prefix, lambda: _api_key_load(prefix))
    now = timezone.now()
    candidate_hash = _hash(secret)
    stored = key.secret_hash if key else _hash("")
    if not hmac.compare_digest(candidate_hash, stored) or key is None:
        return None
    if key.revoked_at is not None or (key.expires_at and key.expires_at <= now):
        return None
    if not key.merchant.is_active:
        return None
    # Write last-used at most once a minute per key to keep the hot path read-only.
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(id=key.id).update(last_used_at=now)
        key.last_used_at = now  # the cached copy too, or every request would write
    return key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    ApiKey.objects.filter(id=api_key.id, revoked_at=None).update(revoked_at=timezone.now())
    api_key_cache.invalidate()
    api_key.refresh_from_db()
    return api_key


@transaction.atomic
def api_key_rotate(*, api_key: ApiKey, overlap: timedelta = timedelta(hours=24)) -> IssuedKey:
    """Issue a successor; the old key keeps working for ``overlap`` then stops."""
    new = api_key_issue(merchant=api_key.merchant, name=api_key.name, scopes=tuple(api_key.scopes))
    ApiKey.objects.filter(id=api_key.id).update(expires_at=timezone.now() + overlap)
    api_key_cache.invalidate()
    return new


# --- idempotency ---------------------------------------------------------------------------

#: How long a successful response answers retries that carry the same key.
IDEMPOTENCY_TTL = timedelta(hours=24)
#: How long a claim stays locked by a request still running. Longer than gunicorn's worker
#: timeout (30 s), so a live request is never overtaken; a dead one frees its key after this.
IDEMPOTENCY_LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class IdempotencyClaim:
    """This request owns the key until ``lease``; the lease value identifies the owner."""

    record_id: int
    lease: datetime


@dataclass(frozen=True)
class IdempotentReplay:
    """The stored first response for the key."""

    status_code: int
    body: Any


def _in_progress() -> IdempotencyInProgress:
    return IdempotencyInProgress(
        "A request with this Idempotency-Key is still being processed. Retry after the "
        "Retry-After seconds with the same key and body to get its result."
    )


def idempotency_enter(
    *, merchant: Merchant, key: str, operation: str, request_hash: str, now: datetime | None = None
) -> IdempotencyClaim | IdempotentReplay:
    """Claim ``key`` inside the caller's transaction (the write's), or answer what the earlier
    request with it got; raises as :func:`idempotency_claim` does.

    On PostgreSQL a new key costs one statement: ``pg_try_advisory_xact_lock`` on the key's hash
    (held until the transaction ends; a request in flight with the same key holds it, so this
    one is 409 at once) and the INSERT, ``ON CONFLICT DO NOTHING``. A key with a committed
    record goes on to :func:`idempotency_claim`, in the same transaction.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("idempotency_enter must run inside the write's transaction")
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        lease = now + IDEMPOTENCY_LEASE
        with connection.cursor() as cursor:
            cursor.execute(
                _enter_sql(),
                [f"{merchant.id}:{key}", merchant.id, key, operation, request_hash, lease, now],
            )
            locked, record_id = cursor.fetchone()
        if not locked:
            raise _in_progress()
        if record_id is not None:
            return IdempotencyClaim(record_id=record_id, lease=lease)
    return idempotency_claim(
        merchant=merchant, key=key, operation=operation, request_hash=request_hash, now=now
    )


@cache
def _enter_sql() -> str:
    quote = connection.ops.quote_name
    table = quote(IdempotencyRecord._meta.db_table)
    # The advisory lock's key is a 64-bit hash of merchant and key: a collision of two keys in
    # flight at once costs the second a 409 and a retry, nothing else. Only the model's own
    # table name is formatted in; every value is a parameter.
    return (
        "WITH l AS (SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0)) AS locked), "  # noqa: S608
        f"k AS (INSERT INTO {table} "
        "(merchant_id, key, route, request_hash, locked_until, created_at) "
        "SELECT %s, %s, %s, %s, %s, %s FROM l WHERE l.locked "
        "ON CONFLICT (merchant_id, key) DO NOTHING RETURNING id) "
        "SELECT l.locked, (SELECT id FROM k) FROM l"
    )


def idempotency_claim(
    *, merchant: Merchant, key: str, operation: str, request_hash: str, now: datetime | None = None
) -> IdempotencyClaim | IdempotentReplay:
    """Claim ``key`` for this request, or answer what the earlier request with it got.

    Raises :class:`IdempotencyKeyReused` when the key came with another body or operation and
    :class:`IdempotencyInProgress` while the earlier request still runs. Call it outside any
    transaction, or inside the write's (:func:`idempotency_enter` does, for a key that has a
    record already).
    """
    now = now or timezone.now()
    lease = now + IDEMPOTENCY_LEASE
    for _ in range(3):
        # Outside a transaction (as the API calls it) the INSERT commits on its own, in one round
        # trip; inside one, a savepoint keeps a lost race from spoiling the caller's transaction.
        guard = transaction.atomic() if connection.in_atomic_block else nullcontext()
        try:
            with guard:
                record = model_insert(
                    IdempotencyRecord(
                        merchant=merchant,
                        key=key,
                        route=operation,
                        request_hash=request_hash,
                        locked_until=lease,
                    )
                )
            return IdempotencyClaim(record_id=record.id, lease=lease)
        except IntegrityError:
            pass  # the key exists: decide from the record below
        existing = IdempotencyRecord.objects.filter(merchant=merchant, key=key).first()
        if existing is None:
            continue  # released (the first request failed) between our INSERT and this read
        if existing.created_at <= now - IDEMPOTENCY_TTL:
            # Past its 24 h but not purged yet: the key is free again.
            IdempotencyRecord.objects.filter(
                id=existing.id, created_at=existing.created_at
            ).delete()
            continue
        if existing.route != operation or existing.request_hash != request_hash:
            raise IdempotencyKeyReused(
                f"Idempotency-Key {key!r} was already used for {existing.route} with another "
                "body. Send a new key for a new request; reuse a key only to retry the very same "
                "request.",
                errors={"Idempotency-Key": ["Use a fresh key (e.g. a UUID) for each new request."]},
            )
        if existing.status_code is not None:
            return IdempotentReplay(status_code=existing.status_code, body=existing.response_body)
        if existing.locked_until is not None and existing.locked_until > now:
            raise _in_progress()
        # The request holding the key died before committing anything: take the key over. The
        # condition on the old lease lets exactly one of several retries win.
        taken = IdempotencyRecord.objects.filter(
            id=existing.id, status_code=None, locked_until=existing.locked_until
        ).update(locked_until=lease)
        if taken:
            return IdempotencyClaim(record_id=existing.id, lease=lease)
        raise _in_progress()
    raise _in_progress()


def idempotency_complete(*, claim: IdempotencyClaim, status_code: int, body: Any) -> None:
    """Store the response; runs in the transaction of the domain write it answers for."""
    if not connection.in_atomic_block:
        raise RuntimeError("idempotency_complete must run inside the domain transaction")
    sql, params = _completion(claim, status_code, body)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        _completion_check(cursor.rowcount)


def idempotency_complete_add(
    writes: WriteBatch, *, claim: IdempotencyClaim, status_code: int, body: Any
) -> None:
    """:func:`idempotency_complete` as part of the caller's ``writes`` (PostgreSQL: in its one
    statement, checked after the send; elsewhere sent now, in the same transaction)."""
    if not connection.in_atomic_block:
        raise RuntimeError("idempotency_complete must run inside the domain transaction")
    if connection.vendor != "postgresql":
        idempotency_complete(claim=claim, status_code=status_code, body=body)
        return
    sql, params = _completion(claim, status_code, body)
    writes.statement(f"{sql} RETURNING id", params, check=_completion_check)


def _completion(claim: IdempotencyClaim, status_code: int, body: Any) -> tuple[str, list[Any]]:
    """The UPDATE that sets the answer only while our lease holds, in plain SQL (the commit
    runs it every time); values go through the model's fields (JSON, and the lease's datetime
    as SQLite stores it)."""
    meta = IdempotencyRecord._meta
    quote = connection.ops.quote_name

    def prep(name: str, value: Any) -> Any:
        return meta.get_field(name).get_db_prep_save(value, connection)  # type: ignore[union-attr]

    sql = (
        f"UPDATE {quote(meta.db_table)} SET status_code = %s, response_body = %s, "  # noqa: S608
        "locked_until = NULL WHERE id = %s AND status_code IS NULL AND locked_until = %s"
    )
    params = [
        status_code,
        prep("response_body", body),
        prep("id", claim.record_id),
        prep("locked_until", claim.lease),
    ]
    return sql, params


def _completion_check(stored: int) -> None:
    if not stored:
        # Our lease ran out and a retry took the key over: roll our write back, theirs counts.
        raise _in_progress()


def idempotency_purge(*, now: datetime | None = None, batch: int = 5000) -> int:
    """Delete records older than 24 h in batches (for the relay's periodic jobs); returns rows."""
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
