"""Customers in the portal: search by phone or name, the detail page's data, manual points
adjustment through loyalty's service (its outbox event) with an audit row; roles; tenancy."""

from __future__ import annotations

import pytest

from loyalty.models import LedgerEntry
from loyalty.services import purchase_commit
from outbox.models import OutboxEvent
from portal.models import AuditEntry
from tests.factories import make_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(setup):
    ann = make_customer(setup.merchant, phone="+79161110001", points=40)
    bob = make_customer(setup.merchant, phone="+79162220002")
    type(bob).objects.filter(id=bob.id).update(name="Bob Builder")
    purchase_commit(
        merchant=setup.merchant,
        customer_id=ann.id,
        amount_minor=100_00,
        order_id="C-1",
        outlet_id=setup.outlet.id,
    )
    return ann, bob


def test_search_by_full_phone_fragment_and_name(people, as_viewer):
    ann, bob = people
    full = as_viewer.get("/api/portal/v1/customers", {"q": "+7 916 111-00-01"}).json()
    assert [c["id"] for c in full["results"]] == [str(ann.id)]
    fragment = as_viewer.get("/api/portal/v1/customers", {"q": "2220"}).json()
    assert [c["id"] for c in fragment["results"]] == [str(bob.id)]
    by_name = as_viewer.get("/api/portal/v1/customers", {"q": "builder"}).json()
    assert [c["id"] for c in by_name["results"]] == [str(bob.id)]
    everyone = as_viewer.get("/api/portal/v1/customers").json()
    assert len(everyone["results"]) == 2 and everyone["next"] is None


def test_customer_detail_has_balance_lots_ledger_purchases(people, as_viewer):
    ann, _bob = people
    body = as_viewer.get(f"/api/portal/v1/customers/{ann.id}").json()
    assert body["customer"]["balance_points"] == 45  # 40 seeded + 5 earned
    assert sum(lot["remaining"] for lot in body["lots"]) == 45
    assert [e["kind"] for e in body["ledger"]] == ["earn", "adjustment"]
    assert body["purchases"][0]["order_id"] == "C-1"
    assert body["telegram_status"] and body["customer"]["telegram_linked"] is False


def test_manager_adjusts_points_with_event_and_audit(staff, people, as_manager):
    ann, _bob = people
    events_before = OutboxEvent.objects.filter(event_type="points.adjusted").count()
    response = as_manager.post(
        f"/api/portal/v1/customers/{ann.id}/adjust",
        {"points": -15, "reason": "goodwill fix"},
        format="json",
    )
    assert response.status_code == 201 and response.json()["balance_after"] == 30
    assert OutboxEvent.objects.filter(event_type="points.adjusted").count() == events_before + 1
    audit = AuditEntry.objects.get(action="points.adjust")
    assert audit.user == staff.manager and audit.object_id == str(ann.id)
    assert audit.detail["points"] == -15 and audit.detail["reason"] == "goodwill fix"


def test_adjust_refusals_write_nothing(staff, people, as_viewer, as_owner):
    ann, _bob = people
    entries = LedgerEntry.objects.count()
    viewer = as_viewer.post(
        f"/api/portal/v1/customers/{ann.id}/adjust", {"points": 5, "reason": "x"}, format="json"
    )
    assert viewer.status_code == 403
    too_many = as_owner.post(
        f"/api/portal/v1/customers/{ann.id}/adjust", {"points": -1000, "reason": "x"}, format="json"
    )
    assert too_many.status_code == 422
    no_reason = as_owner.post(
        f"/api/portal/v1/customers/{ann.id}/adjust", {"points": 5, "reason": " "}, format="json"
    )
    assert no_reason.status_code == 400
    assert LedgerEntry.objects.count() == entries
    assert not AuditEntry.objects.filter(action="points.adjust").exists()


def test_another_merchants_customer_is_404(people, other_staff, as_owner):
    from tests.portal.conftest import signed_in

    ann, _bob = people
    other = signed_in(other_staff.owner)
    assert other.get(f"/api/portal/v1/customers/{ann.id}").status_code == 404
    assert (
        other.post(
            f"/api/portal/v1/customers/{ann.id}/adjust", {"points": 5, "reason": "x"}, format="json"
        ).status_code
        == 404
    )
    assert other.get("/api/portal/v1/customers", {"q": "+79161110001"}).json()["results"] == []
