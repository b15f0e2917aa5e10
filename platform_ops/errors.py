"""The application's error hierarchy.

Services raise these; the DRF exception handler in :mod:`platform_ops.problems` turns each into an
RFC 9457 problem+json response using the class's ``status``, ``slug`` and ``title``.
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


class InsufficientPoints(ApplicationError):
    """A redeem or a negative adjustment exceeds the spendable balance."""

    status = 422
    slug = "insufficient-points"
    title = "Not enough points"


class RedeemCapExceeded(ApplicationError):
    """Redeeming more points than the program lets pay for this purchase."""

    status = 422
    slug = "redeem-cap-exceeded"
    title = "Too many points for this purchase"


class RefundNotAllowed(ApplicationError):
    """The refund exceeds what is left of the purchase, or it is fully refunded."""

    status = 422
    slug = "refund-not-allowed"
    title = "Refund not allowed"


class CodeInvalid(ApplicationError):
    """A one-time customer code is unknown, used or expired."""

    status = 404
    slug = "code-invalid"
    title = "Customer code not valid"


class UnsafeTarget(ApplicationError):
    """A merchant URL resolves to an address we refuse to call (SSRF guard)."""

    status = 400
    slug = "unsafe-target"
    title = "Target URL not allowed"
