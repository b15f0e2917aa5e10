"""Program settings service: validated, one transaction, model signals fired, new purchases
earn at the new rate."""

from __future__ import annotations

import pytest
from django.db.models.signals import post_delete, post_save

from core.errors import ValidationFailed
from loyalty.models import LoyaltyProgram, Tier
from loyalty.services import purchase_commit
from loyalty.services.program import program_settings_update
from tests.factories import make_customer, make_merchant

pytestmark = pytest.mark.django_db

RULES = {
    "earn_bps": 1000,
    "redeem_cap_bps": 3000,
    "minor_per_point": 100,
    "expiry_days": None,
    "credit_delay_days": 0,
}


def _buy(setup, customer, amount_minor: int, order_id: str) -> int:
    return purchase_commit(
        merchant=setup.merchant,
        customer_id=customer.id,
        amount_minor=amount_minor,
        order_id=order_id,
        outlet_id=setup.outlet.id,
    ).earned_points


def test_a_purchase_after_a_change_earns_at_the_new_rate():
    setup = make_merchant("Rates")
    customer = make_customer(setup.merchant)
    assert _buy(setup, customer, 100_00, "R-1") == 5  # default 5 %
    change = program_settings_update(merchant_id=setup.merchant.id, values=RULES, tiers=None)
    assert change.before["earn_bps"] == 500 and change.after["earn_bps"] == 1000
    assert _buy(setup, customer, 100_00, "R-2") == 10
    program_settings_update(
        merchant_id=setup.merchant.id,
        values={**RULES, "earn_bps": 200},
        tiers=[{"name": " VIP ", "min_lifetime_spend_minor": 250_00, "earn_bps": 3000}],
    )
    assert _buy(setup, customer, 100_00, "R-3") == 2  # lifetime 200.00: below VIP
    assert _buy(setup, customer, 100_00, "R-4") == 30  # lifetime 300.00: VIP at 30 %


def test_every_write_fires_model_signals_program_last():
    setup = make_merchant("Signals")
    program_settings_update(
        merchant_id=setup.merchant.id,
        values=RULES,
        tiers=[
            {"name": "A", "min_lifetime_spend_minor": 100, "earn_bps": 600},
            {"name": "B", "min_lifetime_spend_minor": 200, "earn_bps": 700},
        ],
    )
    seen: list[tuple[str, str]] = []

    def saved(sender, instance, **kwargs):
        seen.append(("save", sender.__name__))

    def deleted(sender, instance, **kwargs):
        seen.append(("delete", sender.__name__))

    for model in (LoyaltyProgram, Tier):
        post_save.connect(saved, sender=model, weak=False)
        post_delete.connect(deleted, sender=model, weak=False)
    try:
        # Tiers only change (rules identical): the program row must still be saved, last.
        program_settings_update(
            merchant_id=setup.merchant.id,
            values=RULES,
            tiers=[
                {"name": "B+", "min_lifetime_spend_minor": 200, "earn_bps": 800},
                {"name": "C", "min_lifetime_spend_minor": 300, "earn_bps": 900},
            ],
        )
    finally:
        for model in (LoyaltyProgram, Tier):
            post_save.disconnect(saved, sender=model)
            post_delete.disconnect(deleted, sender=model)
    assert sorted(seen[:-1]) == [("delete", "Tier"), ("save", "Tier"), ("save", "Tier")]
    assert seen[-1] == ("save", "LoyaltyProgram")
    assert list(
        Tier.objects.filter(program__merchant=setup.merchant).values_list(
            "name", "min_lifetime_spend_minor", "earn_bps"
        )
    ) == [("B+", 200, 800), ("C", 300, 900)]


@pytest.mark.parametrize(
    ("values", "tiers", "field"),
    [
        ({**RULES, "earn_bps": 10_001}, None, "earn_bps"),
        ({**RULES, "earn_bps": True}, None, "earn_bps"),
        ({**RULES, "minor_per_point": 0}, None, "minor_per_point"),
        ({**RULES, "expiry_days": 0}, None, "expiry_days"),
        ({k: v for k, v in RULES.items() if k != "redeem_cap_bps"}, None, "redeem_cap_bps"),
        ({**RULES, "colour": 1}, None, "colour"),
        (RULES, [{"name": "", "min_lifetime_spend_minor": 1, "earn_bps": 1}], "tiers[0].name"),
        (
            RULES,
            [{"name": "X", "min_lifetime_spend_minor": -1, "earn_bps": 1}],
            "tiers[0].min_lifetime_spend_minor",
        ),
        (
            RULES,
            [{"name": "X", "min_lifetime_spend_minor": [1], "earn_bps": 1}],
            "tiers[0].min_lifetime_spend_minor",
        ),
        (
            RULES,
            [
                {"name": "A", "min_lifetime_spend_minor": 5, "earn_bps": 1},
                {"name": "B", "min_lifetime_spend_minor": 5, "earn_bps": 2},
            ],
            "tiers",
        ),
        (
            RULES,
            [{"name": f"T{i}", "min_lifetime_spend_minor": i, "earn_bps": 1} for i in range(21)],
            "tiers",
        ),
    ],
)
def test_bad_settings_are_refused_and_change_nothing(values, tiers, field):
    setup = make_merchant("Bad")
    Tier.objects.create(program=setup.merchant.program, name="Keep", earn_bps=1)
    before = LoyaltyProgram.objects.values().get(merchant=setup.merchant)
    with pytest.raises(ValidationFailed) as refused:
        program_settings_update(merchant_id=setup.merchant.id, values=values, tiers=tiers)
    assert field in refused.value.errors and field in str(refused.value)
    assert LoyaltyProgram.objects.values().get(merchant=setup.merchant) == before
    assert list(Tier.objects.values_list("name", flat=True)) == ["Keep"]


def test_another_merchants_program_is_untouched():
    mine, other = make_merchant("Mine"), make_merchant("Other")
    program_settings_update(merchant_id=mine.merchant.id, values=RULES, tiers=[])
    assert LoyaltyProgram.objects.get(merchant=other.merchant).earn_bps == 500
    assert LoyaltyProgram.objects.get(merchant=mine.merchant).earn_bps == 1000
