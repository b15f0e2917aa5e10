"""Encryption at rest for webhook signing secrets.

Standard Webhooks signing needs the secret itself, so it cannot be hashed; it is encrypted with a
Fernet key derived from ``SECRET_KEY`` (and ``SECRET_KEY_FALLBACKS`` for rotation).
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


def _fernet_for(key: str) -> Fernet:
    digest = hashlib.sha256(f"outbox-secret:{key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _cipher() -> MultiFernet:
    keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return MultiFernet([_fernet_for(k) for k in keys])


def secret_encrypt(secret: str) -> str:
    return _cipher().encrypt(secret.encode()).decode()


def secret_decrypt(token: str) -> str:
    return _cipher().decrypt(token.encode()).decode()


def webhook_secret_generate() -> str:
    """A new Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
