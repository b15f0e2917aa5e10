"""Integration API writes: API keys (issue, revoke, rotate)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from integrations.models import ApiKey
from loyalty.models import Merchant

KEY_PREFIX = "lk_"
SCOPES = ("read", "write")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    plaintext: str


def api_key_issue(*, merchant: Merchant, name: str = "default", scopes: tuple[str, ...] = SCOPES) -> IssuedKey:
    """A new key; the plaintext is returned once and never stored."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        merchant=merchant, name=name, prefix=prefix, secret_hash=_hash(secret), scopes=list(scopes)
    )
    return IssuedKey(api_key=key, plaintext=f"{KEY_PREFIX}{prefix}_{secret}")


def api_key_authenticate(plaintext: str) -> ApiKey | None:
    """The live key for ``plaintext`` or None; the secret is compared in constant time."""
    if not plaintext.startswith(KEY_PREFIX) or "_" not in plaintext[len(KEY_PREFIX):]:
        return None
    prefix, _, secret = plaintext[len(KEY_PREFIX):].partition("_")
    key = ApiKey.objects.select_related("merchant").filter(prefix=prefix).first()
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
    return key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    ApiKey.objects.filter(id=api_key.id, revoked_at=None).update(revoked_at=timezone.now())
    api_key.refresh_from_db()
    return api_key


@transaction.atomic
def api_key_rotate(*, api_key: ApiKey, overlap: timedelta = timedelta(hours=24)) -> IssuedKey:
    """Issue a successor; the old key keeps working for ``overlap`` then stops."""
    new = api_key_issue(merchant=api_key.merchant, name=api_key.name, scopes=tuple(api_key.scopes))
    ApiKey.objects.filter(id=api_key.id).update(expires_at=timezone.now() + overlap)
    return new
