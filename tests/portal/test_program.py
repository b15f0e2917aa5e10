"""Program settings from the portal: validated, effective for the next purchase, audited."""

from __future__ import annotations

import pytest

from loyalty.models import LoyaltyProgram, Tier
from loyalty.services import purchase_commit
from portal.models import AuditEntry
from tests.factories import make_customer

pytestmark = pytest.mark.django_db

SETTINGS = {
    "earn_bps": 1000,
    "redeem_cap_bps": 3000,
    "minor_per_point": 100,
    "expiry_days": 365,
    "credit_delay_days": 0,
}


def test_new_rules_apply_to_the_next_purchase_and_are_audited(setup, staff, as_manager):
    tiers = [{"name": "Gold", "min_lifetime_spend_minor": 1_000_00, "earn_bps": 2000}]
    saved = as_manager.put("/api/portal/v1/program", {**SETTINGS, "tiers": tiers}, format="json")
    assert saved.status_code == 200 and saved.json()["tiers"] == tiers
    assert as_manager.get("/api/portal/v1/program").json()["earn_bps"] == 1000
    customer = make_customer(setup.merchant)
    first = purchase_commit(
        merchant=setup.merchant,
        customer_id=customer.id,
        amount_minor=1_000_00,
        order_id="G-1",
        outlet_id=setup.outlet.id,
    )
    assert first.earned_points == 100  # 10 % of 1000.00 at 1.00 per point
    second = purchase_commit(
        merchant=setup.merchant,
        customer_id=customer.id,
        amount_minor=100_00,
        order_id="G-2",
        outlet_id=setup.outlet.id,
    )
    assert second.earned_points == 20  # Gold reached: 20 %
    audit = AuditEntry.objects.get(action="program.update")
    assert audit.user == staff.manager
    assert audit.detail["before"]["earn_bps"] == 500 and audit.detail["after"]["earn_bps"] == 1000


def test_invalid_settings_change_nothing(setup, as_owner, as_viewer):
    before = LoyaltyProgram.objects.values().get(merchant=setup.merchant)
    for bad in (
        {**SETTINGS, "earn_bps": 10_001},
        {**SETTINGS, "minor_per_point": 0},
        {**SETTINGS, "expiry_days": 0},
        {**SETTINGS, "colour": 1},
        {
            **SETTINGS,
            "tiers": [
                {"name": "A", "min_lifetime_spend_minor": 5, "earn_bps": 1},
                {"name": "B", "min_lifetime_spend_minor": 5, "earn_bps": 2},
            ],
        },
    ):
        response = as_owner.put("/api/portal/v1/program", bad, format="json")
        assert response.status_code == 400, bad
    assert as_viewer.put("/api/portal/v1/program", SETTINGS, format="json").status_code == 403
    assert LoyaltyProgram.objects.values().get(merchant=setup.merchant) == before
    assert (
        not Tier.objects.exists()
        and not AuditEntry.objects.filter(action="program.update").exists()
    )


def test_program_page_saves_from_the_form(staff):
    from django.test import Client

    from tests.portal.test_pages import page_login

    client = Client()
    page_login(client, staff.owner.email)
    form = {
        **{k: str(v) for k, v in SETTINGS.items()},
        "expiry_days": "",
        "tier_name": ["Silver", ""],
        "tier_spend": ["50000", ""],
        "tier_earn_bps": ["700", ""],
    }
    assert client.post("/portal/program", form).status_code == 302
    program = LoyaltyProgram.objects.get(merchant=staff.merchant)
    assert program.earn_bps == 1000 and program.expiry_days is None
    assert list(Tier.objects.values_list("name", "earn_bps")) == [("Silver", 700)]
    bad = client.post("/portal/program", {**form, "earn_bps": "lots"})
    assert bad.status_code == 400 and b"earn_bps" in bad.content
