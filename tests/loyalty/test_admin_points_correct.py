"""The admin's "Correct points" action on customers, through the real admin views."""

from __future__ import annotations

from loyalty.models import Customer, EntryKind, LedgerEntry
from outbox.models import OutboxEvent
from tests.factories import make_customer, make_merchant

CHANGELIST = "/admin/loyalty/customer/"


def _post(admin_client, *ids, **extra):
    data = {"action": "points_correct", "_selected_action": [str(i) for i in ids], **extra}
    return admin_client.post(CHANGELIST, data)


def test_correct_points_through_the_admin(admin_client, db):
    setup = make_merchant("Shop")
    customer = make_customer(setup.merchant)
    page = _post(admin_client, customer.id)
    assert page.status_code == 200
    assert b"Correct points" in page.content and b"balance <strong>0</strong>" in page.content

    done = _post(admin_client, customer.id, apply="yes", points="50", reason="ticket 7")
    assert done.status_code == 302
    customer.refresh_from_db()
    assert customer.balance_points == 50
    [entry] = LedgerEntry.objects.filter(customer=customer, kind=EntryKind.ADJUSTMENT)
    assert entry.points == 50 and entry.reason.startswith("ticket 7 (admin: ")
    assert OutboxEvent.objects.filter(event_type="points.adjusted").count() == 1


def test_refused_correction_shows_why_and_changes_nothing(admin_client, db):
    setup = make_merchant("Shop")
    customer = make_customer(setup.merchant)
    other = make_customer(setup.merchant)
    too_much = _post(admin_client, customer.id, apply="yes", points="-5", reason="x")
    assert too_much.status_code == 200 and b"cannot remove 5" in too_much.content
    empty = _post(admin_client, customer.id, apply="yes", points="", reason="")
    assert empty.status_code == 200 and b"This field is required" in empty.content
    two = _post(admin_client, customer.id, other.id)
    assert two.status_code == 302
    assert not LedgerEntry.objects.filter(kind=EntryKind.ADJUSTMENT).exists()
    assert Customer.objects.get(id=customer.id).balance_points == 0
