"""GET events: the merchant's webhook events (same ids and payloads), oldest first, by cursor."""

from __future__ import annotations

import pytest

from loyalty.services import points_adjust
from outbox.models import OutboxEvent
from tests.factories import make_customer
from tests.integrations.api_client import assert_problem, get

pytestmark = pytest.mark.django_db


def test_the_feed_lists_this_merchants_events_as_the_webhooks_carry_them(api, merchant, other):
    customer = make_customer(merchant)  # customer.created
    points_adjust(merchant=merchant, customer_id=customer.id, points=7, reason="gift")
    make_customer(other.merchant)  # another merchant's: never listed
    OutboxEvent.objects.create(
        merchant=merchant,
        event_type="points.expiring_soon",  # Telegram only: not a webhook, not in the feed
        payload={"type": "points.expiring_soon", "timestamp": "x", "data": {}},
    )
    answer = get(api, "events")
    assert answer.status_code == 200
    body = answer.json()
    mine = OutboxEvent.objects.filter(merchant=merchant).exclude(
        event_type="points.expiring_soon"
    )
    expected = [{"id": e.message_id, **e.payload} for e in mine.order_by("id")]
    assert body["results"] == expected
    assert [r["type"] for r in body["results"]] == ["customer.created", "points.adjusted"]
    assert all(r["id"].startswith("msg_") for r in body["results"])
    assert body["done"] is True and body["next"]


def test_cursor_pages_then_polls_for_newer_events(api, merchant):
    customers = [make_customer(merchant) for _ in range(3)]
    seen, after = [], None
    for _ in range(3):
        page = get(api, "events", {"limit": 1, **({"after": after} if after else {})}).json()
        assert len(page["results"]) == 1
        seen += [r["id"] for r in page["results"]]
        after = page["next"]
    assert page["done"] is True
    assert len(set(seen)) == 3
    empty = get(api, "events", {"after": after}).json()
    assert empty == {"results": [], "next": after, "done": True}  # the place is kept
    points_adjust(merchant=merchant, customer_id=customers[0].id, points=1, reason="later")
    newer = get(api, "events", {"after": after}).json()
    assert [r["type"] for r in newer["results"]] == ["points.adjusted"]


def test_type_filter_and_bad_input(api, merchant):
    customer = make_customer(merchant)
    points_adjust(merchant=merchant, customer_id=customer.id, points=3, reason="gift")
    only = get(api, "events", {"type": "points.adjusted"}).json()["results"]
    assert [r["type"] for r in only] == ["points.adjusted"]
    assert_problem(get(api, "events", {"after": "not-a-cursor"}), 400, "validation-error")
    assert_problem(get(api, "events", {"type": "nope"}), 400, "validation-error")
    assert_problem(get(api, "events", {"limit": 0}), 400, "validation-error")
    assert_problem(get(api, "events", {"colour": "red"}), 400, "validation-error")


def test_another_merchants_cursor_shows_only_your_events(api, other_api, merchant, other):
    make_customer(other.merchant)
    theirs = get(other_api, "events").json()
    make_customer(merchant)
    mine = get(api, "events", {"after": theirs["next"]}).json()["results"]
    assert all(
        OutboxEvent.objects.get(message_id=r["id"]).merchant_id == merchant.id for r in mine
    )


def test_the_feed_is_in_the_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/integrations/v1/events"]["get"]
    assert operation["operationId"] == "event_list"
    assert {p["name"] for p in operation["parameters"]} == {"after", "type", "limit"}


def test_an_empty_parameter_is_refused_not_ignored(api, merchant):
    for name in ("type", "after", "limit"):
        problem = assert_problem(get(api, "events", {name: ""}), 400, "validation-error")
        assert name in problem["errors"]
