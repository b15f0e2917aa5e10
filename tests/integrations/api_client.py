"""Talking to the integration API through the DRF test client, and what every error must be."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from core.problems import CONTENT_TYPE
from loyalty.services import MerchantSetup

BASE = "/api/integrations/v1/"


def client_for(plaintext: str | None, *, header: str = "bearer") -> APIClient:
    client = APIClient()
    if plaintext is not None:
        if header == "bearer":
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
        else:
            client.credentials(HTTP_X_API_KEY=plaintext)
    return client


def post(client: APIClient, path: str, body: Any, *, key: str | None = None, **headers: str) -> Any:
    """POST JSON; ``key`` goes in the Idempotency-Key header."""
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(BASE + path, body, format="json", **headers)


def get(client: APIClient, path: str, params: dict[str, Any] | None = None) -> Any:
    return client.get(BASE + path, params or {})


def assert_problem(response: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    """The response is RFC 9457 problem+json with ``status`` (and ``slug``), never a traceback."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"] == CONTENT_TYPE
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert body["detail"] and "Traceback" not in body["detail"]
    if slug is not None:
        assert body["type"].endswith("/" + slug), body
    return body


def purchase_body(setup: MerchantSetup, customer: Any, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_id": str(customer.id),
        "amount_minor": 100_00,
        "order_id": f"order-{customer.id.hex[:8]}-{overrides.pop('n', 1)}",
        "outlet_id": str(setup.outlet.id),
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}
