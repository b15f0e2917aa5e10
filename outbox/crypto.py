"""Encryption at rest for webhook signing secrets.

Standard Webhooks signing needs the secret itself, so it cannot be hashed; it is encrypted with
Fernet. The keys, newest first: ``OUTBOX_ENCRYPTION_KEYS`` (Fernet keys), then Fernet keys derived
from ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS`` (what encrypted every secret before
``OUTBOX_ENCRYPTION_KEYS`` existed, so those stay readable). New tokens are made with the first
key and any key decrypts. Rotation: put the new key first, run ``manage.py
outbox_reencrypt_secrets`` (every stored secret moves to the newest key), then drop the old key.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import transaction

from outbox.models import WebhookEndpoint

#: Endpoints re-encrypted per transaction.
REENCRYPT_BATCH = 200


def _fernet_for(key: str) -> Fernet:
    digest = hashlib.sha256(f"outbox-secret:{key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


#: What the keys are made from: ``OUTBOX_ENCRYPTION_KEYS``, then SECRET_KEY and its fallbacks.
_Material = tuple[tuple[str, ...], tuple[str, ...]]


def _material() -> _Material:
    return (
        tuple(settings.OUTBOX_ENCRYPTION_KEYS),
        (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS),
    )


@lru_cache(maxsize=8)
def _keys_for(material: _Material) -> tuple[Fernet, ...]:
    configured, legacy = material
    return (*(Fernet(k) for k in configured), *(_fernet_for(k) for k in legacy))


def _keys() -> list[Fernet]:
    """Newest first: the configured keys, then the ones derived from SECRET_KEY (legacy)."""
    return list(_keys_for(_material()))


@lru_cache(maxsize=8)
def _cipher_for(material: _Material) -> MultiFernet:
    return MultiFernet(list(_keys_for(material)))


def _cipher() -> MultiFernet:
    # Built once per key set (a SHA-256 derivation and a Fernet per key): the worker decrypts
    # a secret per webhook it sends.
    return _cipher_for(_material())


def secret_encrypt(secret: str) -> str:
    return _cipher().encrypt(secret.encode()).decode()


def secret_decrypt(token: str) -> str:
    """The secret of ``token``; raises :class:`InvalidToken` when no configured key opens it.

    The answers are kept per process for the tokens seen last (at most
    :data:`DECRYPTED_KEPT`), keyed by the token and the key set: the worker signs every webhook
    with its endpoint's secret, and a Fernet check and decryption per send were ~7 % of its
    CPU. A rotated secret is a new token; a key dropped from the configuration is a new key
    set, so nothing decrypted under a key no longer configured is answered from here.
    """
    return _decrypted(token, _material())


#: Decrypted secrets kept per process (one per endpoint in use, plus rotation overlaps).
DECRYPTED_KEPT = 1024


@lru_cache(maxsize=DECRYPTED_KEPT)
def _decrypted(token: str, material: _Material) -> str:
    return _cipher_for(material).decrypt(token.encode()).decode()


def webhook_secret_generate() -> str:
    """A new Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass
class ReencryptResult:
    """What :func:`endpoint_secrets_reencrypt` did, endpoint by endpoint."""

    reencrypted: int = 0
    #: Already under the newest key: left as they were.
    current: int = 0
    #: Their secret changed while we worked (a secret rotation); the new one is current already.
    changed_meanwhile: int = 0
    #: No configured key decrypts them: they cannot be delivered until the key is back.
    undecryptable: list[str] = field(default_factory=list)


def _rotated(token: str, newest: Fernet, cipher: MultiFernet) -> str | None:
    """``token`` under the newest key; ``None`` when it is there already (or empty).

    Raises :class:`InvalidToken` when no configured key decrypts it.
    """
    if not token:
        return None
    try:
        newest.decrypt(token.encode())
        return None
    except InvalidToken:
        pass
    return cipher.rotate(token.encode()).decode()


def endpoint_secrets_reencrypt(
    *, progress: Callable[[int, int], object] | None = None, batch: int = REENCRYPT_BATCH
) -> ReencryptResult:
    """Re-encrypt every endpoint secret under the newest key (``MultiFernet.rotate``).

    Both the current secret and the previous one (kept for a rotation's overlap) move; counts
    are per endpoint. Idempotent: a secret the newest key already decrypts is not touched, so a
    second run writes nothing. Each write is conditional on the tokens read, so a secret rotated
    meanwhile (admin, ``webhook_endpoint_rotate_secret``) is never overwritten with the old one.
    ``progress`` is called after each batch with the endpoints it handled and the total.
    """
    keys = _keys()
    newest, cipher = keys[0], MultiFernet(keys)
    result = ReencryptResult()
    total = WebhookEndpoint.objects.count()
    last_id = None
    while True:
        page = WebhookEndpoint.objects.order_by("id")
        if last_id is not None:
            page = page.filter(id__gt=last_id)
        rows = list(page.values_list("id", "secret_encrypted", "previous_secret_encrypted")[:batch])
        if not rows:
            return result
        with transaction.atomic(durable=True):
            for endpoint_id, token, previous in rows:
                try:
                    changes = {
                        field: rotated
                        for field, rotated in (
                            ("secret_encrypted", _rotated(token, newest, cipher)),
                            ("previous_secret_encrypted", _rotated(previous, newest, cipher)),
                        )
                        if rotated is not None
                    }
                except InvalidToken:
                    result.undecryptable.append(str(endpoint_id))
                    continue
                if not changes:
                    result.current += 1
                    continue
                updated = WebhookEndpoint.objects.filter(
                    id=endpoint_id, secret_encrypted=token, previous_secret_encrypted=previous
                ).update(**changes)
                if updated:
                    result.reencrypted += 1
                else:
                    result.changed_meanwhile += 1
        last_id = rows[-1][0]
        if progress is not None:
            progress(len(rows), total)
