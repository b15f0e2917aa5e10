"""Redaction of secrets and personal data in text bound for logs and alerts.

Every log line goes through :func:`log_data_redact` (the JSON formatter calls it), so nothing
depends on each caller remembering: query-string values (``?phone=...``, ``?api_key=...``,
``?token=...``: any of them may be a secret or a phone number, so all are hidden, names kept),
``Authorization``-style credentials (``Bearer ...``), our API keys (``lk_...``), JWTs, webhook
secrets (``whsec_...``) and E.164 phone numbers anywhere in a message, and Django request objects
(``django.request`` passes the request itself, whose repr carries the full query string).
"""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest

REDACTED = "[redacted]"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Each value of a query string (or of a form-encoded body quoted in a message).
    (re.compile(r"([?&][^=&\s#'\"<>?]{1,100}=)[^&\s#'\"<>]+"), r"\1" + REDACTED),
    (re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE), r"\1 " + REDACTED),
    (re.compile(r"\blk_[A-Za-z0-9]+_[A-Za-z0-9_-]+"), "lk_" + REDACTED),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"), "whsec_" + REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "jwt:" + REDACTED),
    (re.compile(r"(?:\+|%2[Bb])\d{7,15}\b"), "+" + REDACTED),
]


def text_redact(text: str) -> str:
    """``text`` with query values, credentials and phone numbers replaced by ``[redacted]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _value_redact(value: Any) -> Any:
    if isinstance(value, HttpRequest):
        return f"<{value.__class__.__name__}: {value.method} {value.path}>"
    if isinstance(value, str):
        return text_redact(value)
    if isinstance(value, dict):
        return {key: _value_redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_value_redact(item) for item in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return text_redact(str(value))


def log_data_redact(data: dict[str, Any]) -> dict[str, Any]:
    """A log line's fields, every string and every object's text redacted."""
    return {key: _value_redact(value) for key, value in data.items()}
