"""Idempotency-Key: replay, mismatch, in-progress, release on error, crash recovery, concurrency."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from integrations.errors import IdempotencyInProgress
from integrations.idempotency import KeyClaim, request_fingerprint
from integrations.models import IdempotencyRecord
from integrations.services import (
    IDEMPOTENCY_LEASE,
    IdempotencyClaim,
    api_key_issue,
    idempotency_claim,
    idempotency_purge,
)
from loyalty.models import Customer, Purchase, Refund
from loyalty.services import customer_code_issue, purchase_commit
from outbox.models import OutboxEvent
from tests.factories import make_customer, make_merchant
from tests.integrations.api_client import assert_problem, client_for, post, purchase_body


@pytest.mark.django_db
def test_same_key_same_body_replays_the_first_response(api, setup, rich_customer):
    key = str(uuid.uuid4())
    body = purchase_body(setup, rich_customer, redeem_points=10)
    first = post(api, "purchases", body, key=key)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first
    # Key order does not matter: the body is compared as JSON.
    again = post(api, "purchases", dict(reversed(list(body.items()))), key=key)
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Purchase.objects.count() == 1
    assert OutboxEvent.objects.filter(event_type="purchase.committed").count() == 1
    rich_customer.refresh_from_db()
    assert rich_customer.balance_points == first.json()["balance_points"]


@pytest.mark.django_db
def test_same_key_other_body_is_422(api, setup, customer):
    key = str(uuid.uuid4())
    assert post(api, "purchases", purchase_body(setup, customer), key=key).status_code == 201
    problem = assert_problem(
        post(api, "purchases", purchase_body(setup, customer, amount_minor=5), key=key),
        422,
        "idempotency-key-reused",
    )
    assert "Idempotency-Key" in problem["errors"]
    assert Purchase.objects.count() == 1


@pytest.mark.django_db
def test_same_key_on_another_operation_is_422(api, setup, customer):
    key = str(uuid.uuid4())
    purchase = post(api, "purchases", purchase_body(setup, customer), key=key).json()
    assert_problem(
        post(api, "refunds", {"purchase_id": purchase["id"]}, key=key),
        422,
        "idempotency-key-reused",
    )
    assert Refund.objects.count() == 0


@pytest.mark.django_db
def test_keys_are_per_merchant(api, other_api, setup, other, customer):
    key = "shared-key-1"
    assert post(api, "purchases", purchase_body(setup, customer), key=key).status_code == 201
    theirs = make_customer(other.merchant)
    response = post(other_api, "purchases", purchase_body(other, theirs), key=key)
    assert response.status_code == 201 and "Idempotent-Replayed" not in response


@pytest.mark.django_db
def test_an_error_is_not_stored_and_frees_the_key(api, setup, customer):
    key = str(uuid.uuid4())
    too_many = purchase_body(setup, customer, redeem_points=5)
    assert_problem(post(api, "purchases", too_many, key=key), 422, "insufficient-points")
    assert not IdempotencyRecord.objects.exists()
    # The corrected request goes through with the same key.
    assert post(api, "purchases", purchase_body(setup, customer), key=key).status_code == 201


@pytest.mark.django_db
def test_a_request_while_the_first_runs_is_409_with_retry_after(api, setup, merchant, customer):
    key = str(uuid.uuid4())
    body = purchase_body(setup, customer)
    claim = idempotency_claim(
        merchant=merchant,
        key=key,
        operation="POST purchases",
        request_hash=request_fingerprint(body),
    )
    assert isinstance(claim, IdempotencyClaim)
    response = post(api, "purchases", body, key=key)
    assert_problem(response, 409, "idempotency-in-progress")
    assert response["Retry-After"] == "1"
    assert Purchase.objects.count() == 0


@pytest.mark.django_db
def test_a_crashed_request_frees_its_key_when_the_lease_runs_out(api, setup, merchant, customer):
    key = str(uuid.uuid4())
    body = purchase_body(setup, customer)
    long_ago = timezone.now() - IDEMPOTENCY_LEASE - timedelta(seconds=1)
    idempotency_claim(
        merchant=merchant,
        key=key,
        operation="POST purchases",
        request_hash=request_fingerprint(body),
        now=long_ago,
    )
    response = post(api, "purchases", body, key=key)
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert post(api, "purchases", body, key=key)["Idempotent-Replayed"] == "true"
    assert Purchase.objects.count() == 1


@pytest.mark.django_db
def test_optional_key_on_customers_and_code(api, customer):
    key = str(uuid.uuid4())
    first = post(api, "customers", {"phone": "+79165550401"}, key=key)
    again = post(api, "customers", {"phone": "+79165550401"}, key=key)
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    # A retried code lookup gets the customer back although the code is spent.
    code = customer_code_issue(customer=customer)
    assert post(api, "code", {"code": code}, key="code-1").status_code == 200
    replay = post(api, "code", {"code": code}, key="code-1")
    assert replay.status_code == 200 and replay.json()["customer"]["id"] == str(customer.id)
    assert Customer.objects.count() == 2


@pytest.mark.django_db
def test_purge_forgets_keys_after_24_hours(api, setup, customer):
    key = str(uuid.uuid4())
    assert post(api, "purchases", purchase_body(setup, customer), key=key).status_code == 201
    assert idempotency_purge() == 0
    assert idempotency_purge(now=timezone.now() + timedelta(hours=24, seconds=1)) == 1
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_a_stale_record_not_yet_purged_does_not_replay(api, setup, customer):
    key = str(uuid.uuid4())
    assert post(api, "purchases", purchase_body(setup, customer), key=key).status_code == 201
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    # Old key, new purchase: answered as new (here the order_id is taken, so a 409 conflict).
    assert_problem(post(api, "purchases", purchase_body(setup, customer), key=key), 409, "conflict")


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_commit_once():
    setup = make_merchant("Race")
    customer = make_customer(setup.merchant, points=100)
    plaintext = api_key_issue(merchant=setup.merchant).plaintext
    body = purchase_body(setup, customer, redeem_points=10)
    key = str(uuid.uuid4())
    barrier = threading.Barrier(4)
    responses = []

    def send() -> None:
        try:
            barrier.wait()
            responses.append(post(client_for(plaintext), "purchases", body, key=key))
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
    created = [r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r]
    assert len(created) == 1
    for response in responses:
        if response.status_code == 409:
            assert response["Retry-After"] == "1"
        elif response is not created[0]:
            assert response.json() == created[0].json()
    assert Purchase.objects.filter(merchant=setup.merchant).count() == 1
    customer.refresh_from_db()
    assert customer.balance_points == 100 - 10 + 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_commits_of_one_code_consume_it_once():
    setup = make_merchant("Code race")
    customer = make_customer(setup.merchant)
    plaintext = api_key_issue(merchant=setup.merchant).plaintext
    code = customer_code_issue(customer=customer)
    barrier = threading.Barrier(3)
    statuses = []

    def send(n: int) -> None:
        try:
            barrier.wait()
            body = purchase_body(setup, customer, customer_id=None, code=code, n=n)
            statuses.append(
                post(client_for(plaintext), "purchases", body, key=f"k-{n}").status_code
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 404, 404]
    assert Purchase.objects.filter(merchant=setup.merchant).count() == 1


@pytest.mark.django_db
def test_the_service_stores_the_answer_in_its_own_transaction(setup, merchant, customer):
    held = KeyClaim(
        merchant=merchant,
        key="in-tx",
        operation="POST purchases",
        request_hash="h",
        render=lambda purchase: (201, {"id": str(purchase.id)}),
    )
    purchase = purchase_commit(
        merchant=merchant,
        customer_id=customer.id,
        amount_minor=100_00,
        order_id="in-tx-1",
        outlet_id=setup.outlet.id,
        idempotency=held,
    )
    record = IdempotencyRecord.objects.get(key="in-tx")
    assert record.status_code == 201 and record.response_body == {"id": str(purchase.id)}
    assert record.locked_until is None and held.answer == (201, {"id": str(purchase.id)})


@pytest.mark.django_db
def test_a_claim_taken_over_meanwhile_rolls_the_write_back(setup, merchant, customer):
    def render(purchase: Purchase) -> tuple[int, dict]:
        # Between the claim and its completion our lease ran out and a retry took it over.
        IdempotencyRecord.objects.filter(key="lost").update(
            locked_until=timezone.now() + IDEMPOTENCY_LEASE * 2
        )
        return 201, {}

    with pytest.raises(IdempotencyInProgress):
        purchase_commit(
            merchant=merchant,
            customer_id=customer.id,
            amount_minor=100_00,
            order_id="lost-1",
            outlet_id=setup.outlet.id,
            idempotency=KeyClaim(
                merchant=merchant,
                key="lost",
                operation="POST purchases",
                request_hash="h",
                render=render,
            ),
        )
    assert Purchase.objects.count() == 0
    assert not IdempotencyRecord.objects.filter(key="lost").exists()
    assert not OutboxEvent.objects.filter(event_type="purchase.committed").exists()


@pytest.mark.django_db(transaction=True)
def test_a_retry_while_the_first_is_still_in_its_transaction_is_409_at_once():
    """The claim is taken inside the write's transaction: a retry must not wait on the first's
    uncommitted row (the advisory try-lock answers 409 at once), and once the first rolls back
    the key is free without any lease to run out."""
    setup = make_merchant("In flight")
    customer = make_customer(setup.merchant)
    plaintext = api_key_issue(merchant=setup.merchant).plaintext
    body = purchase_body(setup, customer)
    key = str(uuid.uuid4())
    entered, finish = threading.Event(), threading.Event()

    def first() -> None:
        try:
            with transaction.atomic():
                KeyClaim(
                    merchant=setup.merchant,
                    key=key,
                    operation="POST purchases",
                    request_hash=request_fingerprint(body),
                    render=lambda result: (201, {}),
                ).enter()
                entered.set()
                finish.wait(timeout=30)
                transaction.set_rollback(True)  # the first request fails
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert entered.wait(timeout=10)
        response = post(client_for(plaintext), "purchases", body, key=key)
        assert_problem(response, 409, "idempotency-in-progress")
        assert response["Retry-After"] == "1"
    finally:
        finish.set()
        thread.join()
    assert not IdempotencyRecord.objects.filter(key=key).exists()
    response = post(client_for(plaintext), "purchases", body, key=key)
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Purchase.objects.filter(merchant=setup.merchant).count() == 1
