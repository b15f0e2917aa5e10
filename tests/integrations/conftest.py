"""Integration API fixtures: merchants with API keys and DRF test clients sending them."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from integrations.services import api_key_issue
from integrations.throttling import store_breaker
from loyalty.services import MerchantSetup
from tests.factories import make_customer, make_merchant
from tests.integrations.api_client import client_for


@pytest.fixture(autouse=True)
def _roomy_rate_limit(settings):
    """Tests send bursts; the throttle's own tests lower the rate again."""
    settings.API_THROTTLE_RATE = "100000/s"
    store_breaker.succeeded()
    yield
    store_breaker.succeeded()


@pytest.fixture
def key(merchant) -> str:
    return api_key_issue(merchant=merchant).plaintext


@pytest.fixture
def api(key) -> APIClient:
    return client_for(key)


@pytest.fixture
def other(db) -> MerchantSetup:
    """A second merchant, for isolation tests."""
    return make_merchant("Other shop")


@pytest.fixture
def other_api(other) -> APIClient:
    return client_for(api_key_issue(merchant=other.merchant).plaintext)


@pytest.fixture
def rich_customer(merchant):
    return make_customer(merchant, points=1000)
