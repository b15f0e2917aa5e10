"""Purchases and refunds in the portal: filters, detail, full and partial refunds through
loyalty's refund service with the integration API's Idempotency-Key rules, audited."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.models import Purchase, Refund
from loyalty.services import purchase_commit
from portal.models import AuditEntry
from tests.factories import make_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales(setup):
    customer = make_customer(setup.merchant)
    made = [
        purchase_commit(
            merchant=setup.merchant,
            customer_id=customer.id,
            amount_minor=amount,
            order_id=order,
            outlet_id=setup.outlet.id,
        )
        for order, amount in (("P-1", 100_00), ("P-2", 40_00), ("P-3", 60_00))
    ]
    Purchase.objects.filter(id=made[0].id).update(created_at=timezone.now() - timedelta(days=3))
    return made


def refund(client, purchase_id, key, **body):
    return client.post(
        f"/api/portal/v1/purchases/{purchase_id}/refund",
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_filters_by_day_outlet_and_order(setup, sales, as_viewer):
    everything = as_viewer.get("/api/portal/v1/purchases").json()["results"]
    assert [p["order_id"] for p in everything] == ["P-3", "P-2", "P-1"]
    today = timezone.localdate().isoformat()
    recent = as_viewer.get("/api/portal/v1/purchases", {"since": today}).json()["results"]
    assert {p["order_id"] for p in recent} == {"P-2", "P-3"}
    old = as_viewer.get(
        "/api/portal/v1/purchases",
        {"until": (timezone.localdate() - timedelta(days=1)).isoformat()},
    )
    assert [p["order_id"] for p in old.json()["results"]] == ["P-1"]
    by_order = as_viewer.get("/api/portal/v1/purchases", {"order_id": "P-2"}).json()["results"]
    assert [p["order_id"] for p in by_order] == ["P-2"]
    other_outlet = as_viewer.get("/api/portal/v1/purchases", {"outlet_id": str(uuid.uuid4())})
    assert other_outlet.json()["results"] == []
    mine = as_viewer.get("/api/portal/v1/purchases", {"outlet_id": str(setup.outlet.id)})
    assert len(mine.json()["results"]) == 3
    assert as_viewer.get("/api/portal/v1/purchases", {"since": "yesterday"}).status_code == 400
    assert as_viewer.get("/api/portal/v1/purchases", {"colour": "red"}).status_code == 400


def test_partial_then_full_refund_idempotent_and_audited(staff, sales, as_manager):
    purchase = sales[1]
    first = refund(as_manager, purchase.id, "r-1", amount_minor=10_00)
    assert first.status_code == 201 and first.json()["amount_minor"] == 10_00
    again = refund(as_manager, purchase.id, "r-1", amount_minor=10_00)
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert refund(as_manager, purchase.id, "r-1", amount_minor=5_00).status_code == 422
    rest = refund(as_manager, purchase.id, "r-2")
    assert rest.status_code == 201 and rest.json()["amount_minor"] == 30_00
    assert Refund.objects.filter(purchase=purchase).count() == 2
    assert refund(as_manager, purchase.id, "r-3").status_code == 422  # nothing left
    detail = as_manager.get(f"/api/portal/v1/purchases/{purchase.id}").json()
    assert detail["refundable_minor"] == 0 and len(detail["refunds"]) == 2
    audits = AuditEntry.objects.filter(action="purchase.refund", object_id=str(purchase.id))
    assert audits.count() == 2 and {a.user_id for a in audits} == {staff.manager.id}


def test_a_failed_refund_frees_its_key_and_writes_nothing(sales, as_owner, as_viewer):
    purchase = sales[2]
    over = refund(as_owner, purchase.id, "k-1", amount_minor=999_00)
    assert over.status_code == 422
    assert refund(as_viewer, purchase.id, "k-2").status_code == 403
    assert refund(as_owner, purchase.id, "", amount_minor=1).status_code == 400
    missing = as_owner.post(f"/api/portal/v1/purchases/{purchase.id}/refund", {}, format="json")
    assert missing.status_code == 400 and "Idempotency-Key" in missing.json()["errors"]
    assert (
        not Refund.objects.exists()
        and not AuditEntry.objects.filter(action="purchase.refund").exists()
    )
    # The corrected request may reuse the key.
    assert refund(as_owner, purchase.id, "k-1", amount_minor=1_00).status_code == 201


def test_another_merchants_purchase_is_404(sales, other_staff):
    from tests.portal.conftest import signed_in

    other = signed_in(other_staff.owner)
    assert other.get(f"/api/portal/v1/purchases/{sales[0].id}").status_code == 404
    assert refund(other, sales[0].id, "x-1").status_code == 404
    assert other.get("/api/portal/v1/purchases").json()["results"] == []
    assert not Refund.objects.exists()


def test_refund_from_the_page_twice_refunds_once(staff, sales):
    from django.test import Client

    from tests.portal.test_pages import page_login

    client = Client()
    page_login(client, staff.owner.email)
    purchase = sales[2]
    form = {"idempotency_key": str(uuid.uuid4()), "amount_minor": "1500"}
    assert client.post(f"/portal/purchases/{purchase.id}", form).status_code == 302
    assert client.post(f"/portal/purchases/{purchase.id}", form).status_code == 302
    assert Refund.objects.filter(purchase=purchase).count() == 1
    page = client.get(f"/portal/purchases/{purchase.id}")
    assert b"1500" in page.content


def test_keys_older_than_a_day_are_purged_by_the_portal_job(sales, as_owner):
    from portal.jobs import jobs
    from portal.models import IdempotencyRecord

    assert refund(as_owner, sales[0].id, "old-key", amount_minor=1_00).status_code == 201
    assert refund(as_owner, sales[0].id, "new-key", amount_minor=1_00).status_code == 201
    IdempotencyRecord.objects.filter(key="old-key").update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    from core.jobs import periodic_jobs

    assert "portal_idempotency_purge" in {j.name for j in periodic_jobs()}  # wired in settings
    (job,) = [j for j in jobs() if j.name == "portal_idempotency_purge"]
    assert job.run() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new-key"]
