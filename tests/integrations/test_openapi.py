"""The OpenAPI document at /api/schema/ matches what the API does (schemathesis, in the suite)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from config.wsgi import application
from integrations.services import api_key_issue
from loyalty.models import Customer, Purchase
from loyalty.services import MerchantSetup, customer_code_issue, purchase_commit
from tests.factories import make_customer, next_phone


def served_schema() -> dict:
    """What GET /api/schema/ serves, generated without a request (so that it can be loaded at
    collection time, before the test database exists)."""
    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True)))


@pytest.fixture
def wsgi_in_test_transaction(db):
    """Like Django's test client: keep the test's transaction (and its connection) open across
    requests, which the WSGI handler would otherwise close after each one."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@dataclass
class LiveObjects:
    setup: MerchantSetup
    customer: Customer
    purchase: Purchase


@pytest.fixture
def live_objects(setup):
    _current_key["plaintext"] = api_key_issue(merchant=setup.merchant).plaintext
    customer = make_customer(setup.merchant, points=500)
    purchase = purchase_commit(
        merchant=setup.merchant,
        customer_id=customer.id,
        amount_minor=10**9,
        order_id="live-1",
        outlet_id=setup.outlet.id,
    )
    yield LiveObjects(setup=setup, customer=customer, purchase=purchase)
    _current_key.clear()


def test_schema_documents_auth_errors_and_idempotency(client):
    served = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert set(served["components"]["securitySchemes"]) == {
        "BearerApiKey",
        "HeaderApiKey",
        "PortalAccessToken",
    }
    commit = served["paths"]["/api/integrations/v1/purchases"]["post"]
    header = next(p for p in commit["parameters"] if p["name"] == "Idempotency-Key")
    assert header["in"] == "header" and header["required"] is True
    for status in ("400", "401", "403", "404", "409", "422", "429", "500"):
        assert "application/problem+json" in commit["responses"][status]["content"], status
    assert "Retry-After" in commit["responses"]["429"]["headers"]
    assert "Idempotent-Replayed" in commit["responses"]["201"]["headers"]
    assert "consumed by the first call" in served["info"]["description"]
    assert client.get("/api/docs/").status_code == 200
    assert served == served_schema()


# The schemathesis 4 lazy loader (schemathesis.pytest.from_fixture) does not work under pytest 9
# (it sets Node._nodeid, gone in pytest 9), hence a schema loaded at import and sent to the app.
schema = schemathesis.openapi.from_dict(served_schema())
schema.app = application
#: The API key of the running test (keys live in the test's database).
_current_key: dict[str, str] = {}
AUTH_HEADERS = {"Authorization", "X-Api-Key"}


@schema.auth(refresh_interval=None)
class MerchantKey:
    """Sends the test merchant's key, so that schemathesis does not make up credentials."""

    def get(self, case, ctx):
        return _current_key.get("plaintext")

    def set(self, case, data, ctx):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, live_objects, wsgi_in_test_transaction):
    """No 5xx and every answer as documented (status, content type, headers, body).

    Positive data acceptance is left out: a schema cannot say that a phone must exist, that
    lines add up to the total, or that the customer has the points, so schema-valid requests
    may rightly get 400, 404 or 422.
    """
    _send_the_key(case)
    if case.meta is not None and case.meta.generation.mode.is_positive:
        _point_at_real_objects(case, live_objects)
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


def _send_the_key(case) -> None:
    """The coverage phase fills the security headers with blanks; send the real key instead,
    except in the cases that are about those very headers."""
    data = getattr(case.meta.phase, "data", None) if case.meta else None
    if getattr(data, "parameter", None) in AUTH_HEADERS:
        return
    headers = {
        k: v
        for k, v in (case.headers or {}).items()
        if k.lower() not in {"authorization", "x-api-key"}
    }
    case.headers = {**headers, "Authorization": f"Bearer {_current_key['plaintext']}"}


def _point_at_real_objects(case, live) -> None:
    """Valid requests about existing objects, so that success answers are checked too."""
    if "customer_id" in (case.path_parameters or {}):
        case.path_parameters["customer_id"] = str(live.customer.id)
    if isinstance(case.query, dict):
        if "customer_id" in case.query:
            case.query["customer_id"] = str(live.customer.id)
        if "phone" in case.query:
            case.query["phone"] = live.customer.phone
        case.query.pop("cursor", None)  # only cursors we issued are valid
    body = case.body
    if not isinstance(body, dict):
        return
    if "code" in body:
        body["code"] = customer_code_issue(customer=live.customer)
    elif "customer_id" in body:
        body["customer_id"] = str(live.customer.id)
    for place in ("outlet_id", "device_id", "manager_id"):
        if place in body:
            body[place] = str(getattr(live.setup, place.removesuffix("_id")).id)
    body.pop("lines", None)  # random lines rarely add up to the amount
    if "phone" in body:
        body["phone"] = next_phone()
    if "purchase_id" in body:
        body["purchase_id"] = str(live.purchase.id)
    elif "order_id" in body and "amount_minor" not in body and case.path.endswith("refunds"):
        body["order_id"] = live.purchase.order_id
