"""``points_correct``: a manual balance fix through points_adjust, with one-line errors and no
partial state."""

from __future__ import annotations

import json
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from loyalty.models import Customer, EntryKind, LedgerEntry
from outbox.models import OutboxEvent
from tests.factories import make_customer, make_merchant


def _run(*args: str) -> dict:
    out = StringIO()
    call_command("points_correct", *args, stdout=out)
    return json.loads(out.getvalue())


def _fails(*args: str) -> str:
    with pytest.raises(CommandError) as failed:
        call_command("points_correct", *args, stdout=StringIO())
    message = str(failed.value)
    assert "\n" not in message
    return message


def test_adds_and_removes_points_with_a_ledger_entry_and_an_event(db):
    setup = make_merchant("Shop")
    customer = make_customer(setup.merchant)
    added = _run("--customer-id", str(customer.id), "--points", "120", "--reason", "ticket 42")
    assert added["points"] == 120 and added["balance_points"] == 120
    removed = _run("--customer-id", str(customer.id), "--points", "-20", "--reason", "ticket 43")
    assert removed["balance_points"] == 100
    entries = LedgerEntry.objects.filter(customer=customer, kind=EntryKind.ADJUSTMENT)
    assert sorted(e.points for e in entries) == [-20, 120]
    assert {e.reason for e in entries} == {"ticket 42", "ticket 43"}
    customer.refresh_from_db()
    assert customer.balance_points == sum(
        e.points for e in LedgerEntry.objects.filter(customer=customer)
    )
    assert OutboxEvent.objects.filter(event_type="points.adjusted").count() == 2


def test_bad_input_is_one_line_and_changes_nothing(db):
    setup = make_merchant("Shop")
    customer = make_customer(setup.merchant)
    cid = str(customer.id)
    assert "must be a UUID" in _fails("--customer-id", "nope", "--points", "1", "--reason", "x")
    assert "no customer" in _fails(
        "--customer-id", str(uuid.uuid4()), "--points", "1", "--reason", "x"
    )
    assert "non-zero" in _fails("--customer-id", cid, "--points", "0", "--reason", "x")
    assert "reason" in _fails("--customer-id", cid, "--points", "5", "--reason", "  ").lower()
    assert "cannot remove 5" in _fails("--customer-id", cid, "--points", "-5", "--reason", "x")
    assert Customer.objects.get(id=customer.id).balance_points == 0
    assert not LedgerEntry.objects.filter(customer=customer, kind=EntryKind.ADJUSTMENT).exists()
    assert not OutboxEvent.objects.filter(event_type="points.adjusted").exists()
