"""The ``Idempotency-Key`` header around a write endpoint; the record keeping is in services.

See :mod:`integrations.services` for why the claim commits first and the domain write and the
stored response commit together.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from django.db import transaction
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import ValidationFailed
from integrations.services import (
    IdempotentReplay,
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
)

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY = re.compile(r"[\x21-\x7e]{1,255}")


def request_fingerprint(data: Any) -> str:
    """Hash of the JSON body; key order and whitespace do not matter."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_key_from(request: Request, *, required: bool) -> str | None:
    """The request's key, checked; a missing key is a 400 only where it is required."""
    key = request.headers.get(HEADER)
    if key is None:
        if not required:
            return None
        msg = (
            "Send an Idempotency-Key header with a unique value per request (e.g. a UUID); "
            "reuse it only to retry the same request."
        )
        raise ValidationFailed(f"Idempotency-Key header is required. {msg}", errors={HEADER: [msg]})
    if not _KEY.fullmatch(key):
        msg = "Use 1 to 255 printable ASCII characters without spaces, e.g. a UUID."
        raise ValidationFailed(f"Idempotency-Key is malformed. {msg}", errors={HEADER: [msg]})
    return key


def idempotent(
    request: Request,
    *,
    operation: str,
    key: str | None,
    perform: Callable[[], tuple[int, Any]],
) -> Response:
    """Run ``perform`` (the write, answering status and body) at most once per key.

    Without a key ``perform`` simply runs. With one, the first successful response is stored in
    the write's own transaction and replayed to retries with ``Idempotent-Replayed: true``.
    """
    if key is None:
        status, body = perform()
        return Response(body, status=status)
    claim = idempotency_claim(
        merchant=request.auth.merchant,
        key=key,
        operation=operation,
        request_hash=request_fingerprint(request.data),
    )
    if isinstance(claim, IdempotentReplay):
        return Response(claim.body, status=claim.status_code, headers={REPLAYED_HEADER: "true"})
    try:
        with transaction.atomic():
            status, body = perform()
            idempotency_complete(claim=claim, status_code=status, body=body)
    except BaseException:
        # Nothing was committed: free the key so that a corrected request may use it. If even
        # that fails (database gone), the claim's lease runs out and frees the key later.
        try:
            idempotency_release(claim=claim)
        except Exception:
            logger.exception("could not release Idempotency-Key claim %s", claim.record_id)
        raise
    return Response(body, status=status)
