"""The hot calls' statement budgets (issue 16): what a steady-state POST purchases, POST
calculate, GET customers/{id} and POST code send.

Counts, not times: a regression that adds a round trip to the hot path (an exists() before an
insert, a lookup that the caches answer) fails here, whatever the machine's speed.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext

from integrations.models import IdempotencyRecord
from loyalty.models import Customer, LedgerEntry, PointsLot, Purchase, Tier
from loyalty.selectors import program_for
from loyalty.services.customers import customer_code_issue
from outbox.models import Delivery, OutboxEvent
from outbox.services import webhook_endpoint_create
from tests.integrations.api_client import get, post, purchase_body

#: Statements of a steady-state commit with one webhook endpoint and the key cached, counted
#: inside the test's transaction, where the durable atomic is a SAVEPOINT pair (in production:
#: BEGIN, the 3 below, COMMIT): the Idempotency-Key's claim (advisory try-lock and INSERT in
#: one), customer FOR UPDATE with program + tier, and ONE write (core.fast_sql.WriteBatch:
#: purchase, lot, ledger entry, customer update, outbox event, the deliveries made from the
#: endpoints table with their streams' sequence numbers, the pg_notify and the idempotency
#: completion); the outlet comes from its per-process cache (place_cache) like the key. Before
#: issue 16 the same commit sent 18 more (the claim committed apart, key lookup, outlet,
#: order-id exists(), customer, program and tier apart, endpoints, sequences, pg_notify and the
#: completion apart, and the six writes one by one).
COMMIT_STATEMENTS = 5


def test_the_models_written_by_plain_sql_have_no_signal_receivers():
    """core.fast_sql sends no pre_save/post_save: nobody may be listening on these models."""
    for model in (
        Purchase,
        PointsLot,
        LedgerEntry,
        OutboxEvent,
        Delivery,
        Customer,
        IdempotencyRecord,
    ):
        for signal in (pre_save, post_save):
            assert not signal.has_listeners(model), f"{signal} has receivers for {model}"


@pytest.mark.django_db
def test_a_steady_state_commit_stays_within_its_statement_budget(api, setup, customer):
    webhook_endpoint_create(merchant=setup.merchant, url="http://127.0.0.1:9/hook")
    assert post(api, "purchases", purchase_body(setup, customer), key="warm").status_code == 201
    body = {**purchase_body(setup, customer), "order_id": f"o-{uuid.uuid4()}"}
    with CaptureQueriesContext(connection) as queries:
        response = post(api, "purchases", body, key=str(uuid.uuid4()))
    assert response.status_code == 201
    sent = [q["sql"].split()[0].upper() + " " + q["sql"][:70] for q in queries.captured_queries]
    assert len(sent) <= COMMIT_STATEMENTS, "\n".join(sent)


def _sent(queries: CaptureQueriesContext) -> list[str]:
    """The statements apart from the test transaction's SAVEPOINTs (a durable atomic's BEGIN
    and COMMIT in production)."""
    return [
        q["sql"][:90]
        for q in queries.captured_queries
        if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


@pytest.mark.django_db
def test_the_reads_send_what_the_bare_app_sends(api, setup, customer):
    """GET customers/{id} and POST calculate: the customer row, then the program with its
    reached tier in one statement (was: the customer, the merchant, the program and the tier
    apart, each through the ORM's query building); POST code: the conditional UPDATE that
    consumes the code, with the customer, program and tier read from its row, in ONE statement
    (the bare app sends three in a transaction)."""
    Tier.objects.create(
        program=program_for(setup.merchant), name="Gold", earn_bps=900, min_lifetime_spend_minor=0
    )
    assert get(api, f"customers/{customer.id}").status_code == 200  # the key is cached now
    with CaptureQueriesContext(connection) as queries:
        response = get(api, f"customers/{customer.id}")
    assert response.status_code == 200 and response.json()["tier"] == "Gold"
    assert len(_sent(queries)) == 2, "\n".join(_sent(queries))

    body = {"customer_id": str(customer.id), "amount_minor": 10_000}
    with CaptureQueriesContext(connection) as queries:
        response = post(api, "calculate", body)
    assert response.status_code == 200 and response.json()["earn_bps"] == 900
    assert len(_sent(queries)) == 2, "\n".join(_sent(queries))

    code = customer_code_issue(customer=customer)
    with CaptureQueriesContext(connection) as queries:
        response = post(api, "code", {"code": code})
    assert response.status_code == 200, response.content
    assert response.json()["customer"]["id"] == str(customer.id)
    assert response.json()["customer"]["tier"] == "Gold"
    assert len(_sent(queries)) == 1, "\n".join(_sent(queries))
    assert post(api, "code", {"code": code}).status_code == 404  # consumed
