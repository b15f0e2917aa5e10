"""Errors of the loyalty domain (points, purchases, refunds, customer codes)."""

from __future__ import annotations

from core.errors import ApplicationError


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
