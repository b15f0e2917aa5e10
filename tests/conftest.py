"""Shared fixtures: merchants and customers through services, a real HTTP receiver on loopback,
and real relay and Dramatiq worker processes against the test database."""

from __future__ import annotations

import pytest

from tests.factories import make_customer, make_merchant

pytest_plugins = [
    "tests.fixtures.receiver",
    "tests.fixtures.processes",
    "tests.fixtures.brokers",
    "tests.fixtures.browser",
]


@pytest.fixture
def setup(db):
    return make_merchant()


@pytest.fixture
def merchant(setup):
    return setup.merchant


@pytest.fixture
def customer(merchant):
    return make_customer(merchant)
