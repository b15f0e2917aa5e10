"""Portal fixtures: staff of each role for a merchant, a signed-in API client per role, and a
clean sign-in throttle (its counters live in the shared cache)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from loyalty.models import Merchant
from portal.models import StaffUser
from portal.services import staff_user_create
from tests.factories import make_merchant

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _clean_throttle():
    # The throttle's counters would otherwise carry failures from one test into the next.
    cache.clear()
    yield
    cache.clear()


@dataclass
class Staff:
    merchant: Merchant
    owner: StaffUser
    manager: StaffUser
    viewer: StaffUser


def make_staff(merchant: Merchant, prefix: str = "") -> Staff:
    users = {
        role: staff_user_create(
            merchant=merchant, email=f"{prefix}{role}@cafe.test", password=PASSWORD, role=role
        )
        for role in ("owner", "manager", "viewer")
    }
    return Staff(merchant=merchant, **users)


@pytest.fixture
def staff(setup) -> Staff:
    return make_staff(setup.merchant)


@pytest.fixture
def other_staff(db) -> Staff:
    return make_staff(make_merchant("Other").merchant, prefix="other-")


def login(client: APIClient, email: str, password: str = PASSWORD, address: str = "10.0.0.1"):
    return client.post(
        "/api/portal/v1/auth/login",
        {"email": email, "password": password},
        format="json",
        REMOTE_ADDR=address,
    )


def signed_in(user: StaffUser) -> APIClient:
    client = APIClient()
    tokens = login(client, user.email).json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return client


@pytest.fixture
def as_owner(staff) -> APIClient:
    return signed_in(staff.owner)


@pytest.fixture
def as_manager(staff) -> APIClient:
    return signed_in(staff.manager)


@pytest.fixture
def as_viewer(staff) -> APIClient:
    return signed_in(staff.viewer)


def deliver_due() -> int:
    """Run the outbox's own claim and delivery code once, in this process (no worker needed
    for figures; the delivery tests cover the worker)."""
    from outbox.engine import deliveries_process
    from outbox.relay import deliveries_claim

    claim = deliveries_claim(batch=200, lease_seconds=60)
    if claim is None:
        return 0
    deliveries_process(delivery_ids=claim.ids, lease_token=str(claim.token))
    return len(claim.ids)
