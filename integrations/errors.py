"""Errors of the integration API's own rules (the Idempotency-Key)."""

from __future__ import annotations

from core.errors import ApplicationError


class IdempotencyKeyReused(ApplicationError):
    """The Idempotency-Key was already used for another request body or another operation."""

    status = 422
    slug = "idempotency-key-reused"
    title = "Idempotency-Key already used for another request"


class IdempotencyInProgress(ApplicationError):
    """A request with the same Idempotency-Key is still being processed."""

    status = 409
    slug = "idempotency-in-progress"
    title = "A request with this Idempotency-Key is in progress"
    #: Seconds the client should wait before retrying (sent as ``Retry-After``).
    retry_after = 1
