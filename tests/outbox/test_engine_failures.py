"""One delivery's failure never fails its batch (an undecryptable endpoint secret included), and
every failed try writes one structured log line (merchant, endpoint, status, error class,
request id) that ``grep`` finds: the engine against a real receiver on loopback."""

from __future__ import annotations

import json
import logging

import pytest

from core.logging import JsonFormatter
from core.request_context import reset_request_id, set_request_id
from outbox.engine import deliveries_process
from outbox.models import Attempt, Delivery, DeliveryStatus, WebhookEndpoint
from outbox.relay import deliveries_claim
from outbox.services import webhook_endpoint_create
from tests.factories import make_customer, make_merchant


def failure_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "delivery attempt failed"]


@pytest.fixture
def merchant(transactional_db):
    return make_merchant("Shop").merchant


def _claim_all():
    claim = deliveries_claim(batch=50, lease_seconds=60)
    assert claim is not None
    return claim


def test_undecryptable_secret_fails_only_its_own_delivery(merchant, receiver, caplog):
    good, _ = webhook_endpoint_create(merchant=merchant, url=receiver.url)
    bad, _ = webhook_endpoint_create(merchant=merchant, url=receiver.url + "/other")
    # As after a key rotation gone wrong: the stored secret no longer decrypts.
    WebhookEndpoint.objects.filter(id=bad.id).update(secret_encrypted="gAAAA-not-a-token")
    make_customer(merchant)  # customer.created: one delivery per endpoint, one batch
    claim = _claim_all()
    assert len(claim.ids) == 2

    with caplog.at_level(logging.WARNING, logger="outbox.engine"):
        counts = deliveries_process(delivery_ids=claim.ids, lease_token=str(claim.token))

    assert len(receiver.wait_for(1)) == 1
    assert Delivery.objects.get(endpoint=good).status == DeliveryStatus.DELIVERED
    failed = Delivery.objects.get(endpoint=bad)
    # A try was made and recorded: it will retry (and go dead at the end of its schedule).
    assert failed.status == DeliveryStatus.PENDING and failed.attempts == 1
    [attempt] = Attempt.objects.filter(delivery=failed)
    assert attempt.error_class == "InvalidToken" and attempt.status_code is None
    assert counts.get("delivered") == 1, counts
    [line] = failure_lines(caplog)
    assert line.endpoint_id == str(bad.id) and line.merchant_id == str(merchant.id)
    assert line.error_class == "InvalidToken" and line.status is None


def test_each_failed_try_logs_one_json_line_with_its_request_id(merchant, receiver, caplog):
    receiver.respond = lambda req, n: (429, {}, b"slow down", 0)
    endpoint, secret = webhook_endpoint_create(merchant=merchant, url=receiver.url)
    token = set_request_id("req-incident-1")
    try:
        make_customer(merchant)
    finally:
        reset_request_id(token)
    claim = _claim_all()

    with caplog.at_level(logging.WARNING, logger="outbox.engine"):
        deliveries_process(delivery_ids=claim.ids, lease_token=str(claim.token))

    [record] = failure_lines(caplog)
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "WARNING"
    assert line["status"] == 429 and line["provider"] == "merchant_webhook"
    assert line["merchant_id"] == str(merchant.id) and line["endpoint_id"] == str(endpoint.id)
    assert line["request_id"] == "req-incident-1" and line["attempt"] == 1
    assert line["error_class"]
    raw = json.dumps(line)
    assert secret not in raw and receiver.url not in raw
