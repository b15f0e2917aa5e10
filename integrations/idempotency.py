"""The ``Idempotency-Key`` header around a write endpoint; the record keeping is in services.

The view claims the key and replays stored answers; the domain service owns the transaction and
completes the claim inside it. See :mod:`integrations.services` for why the claim commits first
and the domain write and the stored response commit together.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import ValidationFailed
from core.fast_sql import WriteBatch
from core.idempotency import Idempotency
from integrations.services import (
    IdempotencyClaim,
    IdempotentReplay,
    idempotency_claim,
    idempotency_complete,
    idempotency_complete_add,
    idempotency_release,
)

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY = re.compile(r"[\x21-\x7e]{1,255}")

ResultT = TypeVar("ResultT")
#: Turns a write's result into the answer: HTTP status and JSON body.
Render = Callable[[ResultT], tuple[int, Any]]


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


class KeyClaim(Generic[ResultT]):
    """A claimed key as the domain sees it (:class:`core.idempotency.Idempotency`).

    The service calls :meth:`complete` with its result inside its own transaction; the claim
    renders the answer once, stores it with the write, and keeps it for the view to send.
    """

    def __init__(self, claim: IdempotencyClaim, render: Render[ResultT]) -> None:
        self.claim = claim
        self.render = render
        self.answer: tuple[int, Any] | None = None

    def complete(self, result: ResultT) -> None:
        status, body = self.render(result)
        idempotency_complete(claim=self.claim, status_code=status, body=body)
        self.answer = (status, body)

    def complete_in(self, writes: WriteBatch, result: ResultT) -> None:
        status, body = self.render(result)
        idempotency_complete_add(writes, claim=self.claim, status_code=status, body=body)
        self.answer = (status, body)


def idempotent(
    request: Request,
    *,
    operation: str,
    key: str | None,
    render: Render[ResultT],
    perform: Callable[[Idempotency[ResultT] | None], ResultT],
) -> Response:
    """Run the write ``perform`` at most once per key, answering what ``render`` makes of it.

    ``perform`` calls the service with the claim it is given (None without a key); the service
    stores the rendered answer in its own transaction, and retries with the key get that answer
    again with ``Idempotent-Replayed: true``. This claims, replays and releases; it opens no
    transaction.
    """
    if key is None:
        status, body = render(perform(None))
        return Response(body, status=status)
    claim = idempotency_claim(
        merchant=request.auth.merchant,
        key=key,
        operation=operation,
        request_hash=request_fingerprint(request.data),
    )
    if isinstance(claim, IdempotentReplay):
        return Response(claim.body, status=claim.status_code, headers={REPLAYED_HEADER: "true"})
    held = KeyClaim(claim, render)
    try:
        perform(held)
    except BaseException:
        # Nothing was committed: free the key so that a corrected request may use it. If even
        # that fails (database gone), the claim's lease runs out and frees the key later.
        try:
            idempotency_release(claim=claim)
        except Exception:
            logger.exception("could not release Idempotency-Key claim %s", claim.record_id)
        raise
    if held.answer is None:
        raise RuntimeError(f"{operation}: the service did not complete its Idempotency-Key claim")
    status, body = held.answer
    return Response(body, status=status)
