"""The root of the application's one error hierarchy, and the errors every domain shares.

Services raise :class:`ApplicationError` subclasses; the DRF exception handler in
:mod:`core.problems` turns each into an RFC 9457 problem+json response using the class's
``status``, ``slug`` and ``title``. Domain errors live with their domain and subclass these:
``loyalty.errors``, ``outbox.errors``, ``integrations.errors``.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """Base of every error a client may see; never carries secrets."""

    status: int = 400
    slug: str = "application-error"
    title: str = "The request could not be processed"

    def __init__(
        self,
        detail: str,
        *,
        errors: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}
        self.extra = extra or {}


class ValidationFailed(ApplicationError):
    """Input is malformed or out of range."""

    status = 400
    slug = "validation-error"
    title = "The request has invalid fields"


class NotFound(ApplicationError):
    """The object does not exist for this merchant."""

    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(ApplicationError):
    """The request conflicts with the current state (duplicate, already done)."""

    status = 409
    slug = "conflict"
    title = "Conflict with the current state"
