"""Loyalty domain: merchants, their places and people, customers, purchases and the points ledger.

Invariants (enforced by :mod:`loyalty.services`, the only writer):

* ``Customer.balance_points`` == sum of ``LedgerEntry.points`` of the customer, and equals the sum
  of ``PointsLot.remaining`` over available lots; ``Customer.pending_points`` likewise for
  ``LedgerEntry.pending_points`` and lots not yet available (deferred crediting).
* Both are changed only under a row lock on the customer, together with their ledger row.
* Neither is ever negative (also a database check constraint).
"""

from __future__ import annotations

import secrets
import uuid

from django.db import models
from django.db.models import Q


def _start_payload() -> str:
    return secrets.token_urlsafe(12)


class Merchant(models.Model):
    """A business running a loyalty program on the platform (the tenant)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    #: What follows ``/start `` in the merchant's Telegram deep link.
    telegram_start_payload = models.CharField(max_length=64, unique=True, default=_start_payload)
    #: Merchant staff's own Telegram chat for operational notices (endpoint disabled, ...).
    telegram_chat_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class LoyaltyProgram(models.Model):
    """The rules of a merchant's program. Percentages are basis points (1 % = 100 bps)."""

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="program")
    earn_bps = models.PositiveIntegerField(default=500, help_text="Base earn rate, 500 = 5 %.")
    redeem_cap_bps = models.PositiveIntegerField(
        default=5000, help_text="Max share of a purchase payable with points, 5000 = 50 %."
    )
    minor_per_point = models.PositiveIntegerField(
        default=100, help_text="Money value of one point in minor units (100 = 1.00)."
    )
    expiry_days = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: never.")
    credit_delay_days = models.PositiveIntegerField(
        default=0, help_text="Earned points become spendable after this many days."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(earn_bps__lte=10000), name="program_earn_le_100pct"),
            models.CheckConstraint(
                condition=Q(redeem_cap_bps__lte=10000), name="program_cap_le_100pct"
            ),
            models.CheckConstraint(
                condition=Q(minor_per_point__gte=1), name="program_point_value_pos"
            ),
        ]

    def __str__(self) -> str:
        return f"program of {self.merchant_id}"


class Tier(models.Model):
    """A level reached by lifetime net spend, with its own earn rate."""

    program = models.ForeignKey(LoyaltyProgram, on_delete=models.CASCADE, related_name="tiers")
    name = models.CharField(max_length=50)
    min_lifetime_spend_minor = models.BigIntegerField(default=0)
    earn_bps = models.PositiveIntegerField()

    class Meta:
        ordering = ["min_lifetime_spend_minor"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "min_lifetime_spend_minor"], name="tier_threshold_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Outlet(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="outlets")
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class Device(models.Model):
    """A register at an outlet."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="devices")
    outlet = models.ForeignKey(Outlet, on_delete=models.CASCADE, related_name="devices")
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class Manager(models.Model):
    """A cashier or shift manager."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="managers")
    outlet = models.ForeignKey(Outlet, on_delete=models.SET_NULL, null=True, blank=True)
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class TelegramStatus(models.TextChoices):
    NONE = "none", "Not linked"
    LINKED = "linked", "Linked"
    BLOCKED = "blocked", "Blocked the bot"


class Customer(models.Model):
    """A merchant's customer and their points account (balances are cached here)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="customers")
    phone = models.CharField(max_length=20, help_text="E.164")
    name = models.CharField(max_length=200, blank=True, default="")
    balance_points = models.BigIntegerField(default=0)
    pending_points = models.BigIntegerField(default=0)
    lifetime_spend_minor = models.BigIntegerField(default=0)
    telegram_chat_id = models.BigIntegerField(null=True, blank=True)
    telegram_status = models.CharField(
        max_length=10, choices=TelegramStatus.choices, default=TelegramStatus.NONE
    )
    telegram_language = models.CharField(max_length=8, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "phone"], name="customer_phone_per_merchant"
            ),
            models.CheckConstraint(
                condition=Q(balance_points__gte=0), name="customer_balance_nonneg"
            ),
            models.CheckConstraint(
                condition=Q(pending_points__gte=0), name="customer_pending_nonneg"
            ),
        ]
        indexes = [models.Index(fields=["telegram_chat_id"], name="customer_tg_chat_idx")]

    def __str__(self) -> str:
        return f"{self.phone} ({self.name})" if self.name else self.phone


class CustomerCode(models.Model):
    """A one-time code a customer shows at the register; stored hashed, single use, short-lived."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"code for {self.customer_id} (until {self.expires_at:%H:%M:%S})"


class Purchase(models.Model):
    """A committed purchase; refunded_* fields accumulate its refunds."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="purchases")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="purchases")
    order_id = models.CharField(max_length=100)
    amount_minor = models.BigIntegerField()
    earnable_minor = models.BigIntegerField(help_text="Money paid on lines that earn points.")
    earned_points = models.BigIntegerField(default=0)
    redeemed_points = models.BigIntegerField(default=0)
    redeemed_minor = models.BigIntegerField(default=0)
    refunded_minor = models.BigIntegerField(default=0)
    refunded_earned_points = models.BigIntegerField(default=0)
    refunded_redeemed_points = models.BigIntegerField(default=0)
    outlet = models.ForeignKey(Outlet, on_delete=models.PROTECT, null=True, blank=True)
    device = models.ForeignKey(Device, on_delete=models.PROTECT, null=True, blank=True)
    manager = models.ForeignKey(Manager, on_delete=models.PROTECT, null=True, blank=True)
    lines = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "order_id"], name="purchase_order_per_merchant"
            ),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="purchase_amount_pos"),
            models.CheckConstraint(
                condition=Q(refunded_minor__lte=models.F("amount_minor")),
                name="purchase_refund_le_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"order {self.order_id} ({self.amount_minor})"

    @property
    def is_fully_refunded(self) -> bool:
        return self.refunded_minor >= self.amount_minor


class Refund(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="refunds")
    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, related_name="refunds")
    amount_minor = models.BigIntegerField()
    earned_points_reversed = models.BigIntegerField(default=0)
    #: Earned points that could not be taken back because the customer had already spent them.
    earned_points_shortfall = models.BigIntegerField(default=0)
    redeemed_points_returned = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="refund_amount_pos")
        ]

    def __str__(self) -> str:
        return f"refund {self.amount_minor} of {self.purchase_id}"


class PointsLot(models.Model):
    """Points credited together, consumed oldest first so that spends and expiry agree."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="lots")
    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, null=True, blank=True)
    points = models.BigIntegerField()
    remaining = models.BigIntegerField()
    is_available = models.BooleanField(default=True)
    available_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    #: When the customer was reminded that this lot is about to expire.
    expiry_notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(remaining__gte=0), name="lot_remaining_nonneg"),
            models.CheckConstraint(
                condition=Q(remaining__lte=models.F("points")), name="lot_remaining_le_points"
            ),
        ]
        indexes = [
            models.Index(
                fields=["customer", "expires_at", "id"],
                name="lot_open_fifo_idx",
                condition=Q(remaining__gt=0),
            ),
            models.Index(
                fields=["expires_at"], name="lot_expiry_due_idx", condition=Q(remaining__gt=0)
            ),
            models.Index(
                fields=["available_at"],
                name="lot_maturity_due_idx",
                condition=Q(is_available=False),
            ),
        ]

    def __str__(self) -> str:
        return f"lot {self.remaining}/{self.points}"


class EntryKind(models.TextChoices):
    EARN = "earn", "Earned on purchase"
    REDEEM = "redeem", "Redeemed on purchase"
    CREDIT = "credit", "Deferred points became spendable"
    REFUND_REVERSAL = "refund_reversal", "Earned points reversed by refund"
    REFUND_RETURN = "refund_return", "Redeemed points returned by refund"
    ADJUSTMENT = "adjustment", "Manual adjustment"
    EXPIRY = "expiry", "Expired"


class LedgerEntry(models.Model):
    """Append-only record of every balance change; rows are never updated or deleted."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="ledger")
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    points = models.BigIntegerField(help_text="Change of the spendable balance.")
    pending_points = models.BigIntegerField(
        default=0, help_text="Change of not-yet-spendable points."
    )
    balance_after = models.BigIntegerField()
    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, null=True, blank=True)
    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["customer", "-id"], name="ledger_customer_recent_idx")]
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d}"
