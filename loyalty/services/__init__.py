"""Loyalty writes. The only code that changes balances, the ledger and lots.

Every top-level service runs in one transaction that locks the customer row, writes the domain
rows and ledger entries, and records the outbox event announcing the change
(:func:`outbox.services.outbox_event_record`). If any write fails, none is committed.

One module per concern; import the services from here (``from loyalty.services import X``).
"""

from loyalty.payloads import refund_payload  # here before loyalty.payloads existed
from loyalty.services.customers import (
    CUSTOMER_CODE_DIGITS,
    CUSTOMER_CODE_TTL,
    CustomerTerms,
    customer_code_issue,
    customer_code_redeem,
    customer_register,
    customer_telegram_link,
    customer_telegram_unlink,
)
from loyalty.services.merchants import MerchantSetup, merchant_create
from loyalty.services.places import (
    PLACE_KINDS,
    place_create,
    place_deactivate,
    place_get,
    place_reactivate,
    place_rename,
)
from loyalty.services.points import (
    EXPIRY_REMINDER_WINDOW,
    points_adjust,
    points_credit_matured,
    points_expire_due,
    points_expiring_soon,
    points_expiry_remind,
)
from loyalty.services.purchases import (
    Calculation,
    PlaceRefs,
    place_resolve,
    purchase_calculate,
    purchase_commit,
    purchase_quote,
)
from loyalty.services.refunds import refund_create

__all__ = [
    "CUSTOMER_CODE_DIGITS",
    "CUSTOMER_CODE_TTL",
    "EXPIRY_REMINDER_WINDOW",
    "PLACE_KINDS",
    "Calculation",
    "CustomerTerms",
    "MerchantSetup",
    "PlaceRefs",
    "customer_code_issue",
    "customer_code_redeem",
    "customer_register",
    "customer_telegram_link",
    "customer_telegram_unlink",
    "merchant_create",
    "place_create",
    "place_deactivate",
    "place_get",
    "place_reactivate",
    "place_rename",
    "place_resolve",
    "points_adjust",
    "points_credit_matured",
    "points_expire_due",
    "points_expiring_soon",
    "points_expiry_remind",
    "purchase_calculate",
    "purchase_commit",
    "purchase_quote",
    "refund_create",
    "refund_payload",
]
