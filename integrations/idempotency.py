"""The ``Idempotency-Key`` header around a write endpoint; the record keeping is in services.

The view hands the key to the domain service and replays stored answers; the service owns the
transaction, claims the key first in it and completes the claim last. See
:mod:`integrations.services` for why the claim, the domain write and the stored response commit
together.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import ValidationFailed
from core.fast_sql import WriteBatch
from core.idempotency import Idempotency, Replayed
from integrations.services import (
    IdempotencyClaim,
    IdempotentReplay,
    idempotency_complete,
    idempotency_complete_add,
    idempotency_enter,
)
from loyalty.models import Merchant

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
    """A request's key as the domain sees it (:class:`core.idempotency.Idempotency`).

    The service calls :meth:`enter` first in its transaction (the claim, or :class:`Replayed`
    with the stored answer) and :meth:`complete` with its result last; the claim renders the
    answer once, stores it with the write, and keeps it for the view to send.
    """

    def __init__(
        self,
        *,
        merchant: Merchant,
        key: str,
        operation: str,
        request_hash: str,
        render: Render[ResultT],
    ) -> None:
        self.merchant, self.key, self.operation = merchant, key, operation
        self.request_hash, self.render = request_hash, render
        self.claim: IdempotencyClaim | None = None
        self.answer: tuple[int, Any] | None = None

    def enter(self) -> None:
        entered = idempotency_enter(
            merchant=self.merchant,
            key=self.key,
            operation=self.operation,
            request_hash=self.request_hash,
        )
        if isinstance(entered, IdempotentReplay):
            raise Replayed((entered.status_code, entered.body))
        self.claim = entered

    def complete(self, result: ResultT) -> None:
        status, body = self.render(result)
        idempotency_complete(claim=self._claimed(), status_code=status, body=body)
        self.answer = (status, body)

    def complete_in(self, writes: WriteBatch, result: ResultT) -> None:
        status, body = self.render(result)
        idempotency_complete_add(writes, claim=self._claimed(), status_code=status, body=body)
        self.answer = (status, body)

    def _claimed(self) -> IdempotencyClaim:
        if self.claim is None:
            raise RuntimeError(f"{self.operation}: the service completed a key it never entered")
        return self.claim


def idempotent(
    request: Request,
    *,
    operation: str,
    key: str | None,
    render: Render[ResultT],
    perform: Callable[[Idempotency[ResultT] | None], ResultT],
) -> Response:
    """Run the write ``perform`` at most once per key, answering what ``render`` makes of it.

    ``perform`` calls the service with the key it is given (None without a key); the service
    claims it and stores the rendered answer in its own transaction, and retries with the key
    get that answer again with ``Idempotent-Replayed: true``. This opens no transaction: a
    failed write rolls its claim back with it.
    """
    if key is None:
        status, body = render(perform(None))
        return Response(body, status=status)
    held = KeyClaim(
        merchant=request.auth.merchant,
        key=key,
        operation=operation,
        request_hash=request_fingerprint(request.data),
        render=render,
    )
    try:
        perform(held)
    except Replayed as replay:
        status, body = replay.answer
        return Response(body, status=status, headers={REPLAYED_HEADER: "true"})
    if held.answer is None:
        raise RuntimeError(f"{operation}: the service did not complete its Idempotency-Key claim")
    status, body = held.answer
    return Response(body, status=status)
