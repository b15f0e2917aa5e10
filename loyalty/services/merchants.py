"""Merchant set-up: a merchant with its program and a first outlet, register and manager."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from core.errors import ValidationFailed
from loyalty.models import Device, LoyaltyProgram, Manager, Merchant, Outlet


@dataclass(frozen=True)
class MerchantSetup:
    merchant: Merchant
    outlet: Outlet
    device: Device
    manager: Manager


@transaction.atomic
def merchant_create(*, name: str, earn_bps: int = 500, redeem_cap_bps: int = 5000) -> MerchantSetup:
    """A merchant with its program, a first outlet, register and manager."""
    if not name.strip():
        raise ValidationFailed("name is required.", errors={"name": ["Give the merchant a name."]})
    merchant = Merchant.objects.create(name=name.strip())
    LoyaltyProgram.objects.create(
        merchant=merchant, earn_bps=earn_bps, redeem_cap_bps=redeem_cap_bps
    )
    outlet = Outlet.objects.create(merchant=merchant, name="Main outlet")
    device = Device.objects.create(merchant=merchant, outlet=outlet, name="Register 1")
    manager = Manager.objects.create(merchant=merchant, outlet=outlet, name="Manager")
    return MerchantSetup(merchant=merchant, outlet=outlet, device=device, manager=manager)
