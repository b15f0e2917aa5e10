"""HTTP metrics per CONTRACT: labelled by route template (never the raw path), method, status."""

from __future__ import annotations

import time

import pytest
from prometheus_client import REGISTRY

from integrations import apis
from integrations.services import api_key_issue
from tests.factories import make_customer

pytestmark = pytest.mark.django_db

CUSTOMER_ROUTE = "/api/integrations/v1/customers/<uuid:customer_id>"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_requests_are_counted_by_route_template(client, merchant):
    key = api_key_issue(merchant=merchant).plaintext
    customers = [make_customer(merchant) for _ in range(2)]
    labels = {"route": CUSTOMER_ROUTE, "method": "GET", "status": "200"}
    before = sample("http_requests_total", **labels)
    hist_before = sample("http_request_duration_seconds_count", route=CUSTOMER_ROUTE, method="GET")
    for customer in customers:
        response = client.get(
            f"/api/integrations/v1/customers/{customer.id}", HTTP_AUTHORIZATION=f"Bearer {key}"
        )
        assert response.status_code == 200
    assert sample("http_requests_total", **labels) == before + 2
    assert (
        sample("http_request_duration_seconds_count", route=CUSTOMER_ROUTE, method="GET")
        == hist_before + 2
    )
    exposed = "\n".join(
        f"{s.name}{s.labels}"
        for m in REGISTRY.collect()
        for s in m.samples
        if s.name == "http_requests_total"
    )
    assert str(customers[0].id) not in exposed  # ids never become labels


def test_unmatched_paths_share_one_label(client):
    before = sample("http_requests_total", route="unmatched", method="GET", status="404")
    client.get("/no/such/page/1")
    client.get("/no/such/page/2")
    assert (
        sample("http_requests_total", route="unmatched", method="GET", status="404") == before + 2
    )


def test_errors_are_counted_with_their_status(client):
    labels = {"route": "/api/integrations/v1/purchases", "method": "POST", "status": "401"}
    before = sample("http_requests_total", **labels)
    client.post("/api/integrations/v1/purchases", {}, content_type="application/json")
    assert sample("http_requests_total", **labels) == before + 1


def test_slow_requests_are_counted_over_the_threshold(client, merchant, settings, monkeypatch):
    key = api_key_issue(merchant=merchant).plaintext
    customer = make_customer(merchant)
    real = apis.customer_get

    def slow_customer_get(**kwargs):
        time.sleep(0.06)
        return real(**kwargs)

    before = sample("http_slow_requests_total", route=CUSTOMER_ROUTE, method="GET")
    url = f"/api/integrations/v1/customers/{customer.id}"
    settings.ALERT_HTTP_SLOW_THRESHOLD_MS = 60_000
    client.get(url, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert sample("http_slow_requests_total", route=CUSTOMER_ROUTE, method="GET") == before
    settings.ALERT_HTTP_SLOW_THRESHOLD_MS = 50
    monkeypatch.setattr(apis, "customer_get", slow_customer_get)
    client.get(url, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert sample("http_slow_requests_total", route=CUSTOMER_ROUTE, method="GET") == before + 1
