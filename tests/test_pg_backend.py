"""core.pg_backend: the per-request health check asks the socket first (no SELECT 1 when it is
quiet) and still finds a connection the server ended."""

from __future__ import annotations

import select
import time

import pytest
from django.db import connection, connections

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def spare():
    """A second connection to the test database, apart from the test's own."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL backend only")
    wrapper = connections.create_connection("default")
    wrapper.health_check_enabled = True
    wrapper.connect()
    yield wrapper
    wrapper.close()


def _last_query(pid: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0]


def test_a_quiet_connection_is_usable_without_a_round_trip(spare):
    assert type(spare).__module__ == "core.pg_backend.base"
    with spare.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid() /* marker */")
        pid = cursor.fetchone()[0]
    assert spare.is_usable()
    spare.health_check_done = False
    spare.close_if_health_check_failed()
    assert spare.connection is not None
    # The server saw no statement after the marker (Django's check would have sent SELECT 1).
    assert "marker" in _last_query(pid)


def test_a_connection_the_server_ended_is_found_and_replaced(spare):
    with spare.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while not select.select([spare.connection.fileno()], [], [], 0.05)[0]:
        assert time.monotonic() < deadline, "the server's goodbye never reached the socket"
    assert not spare.is_usable()
    spare.health_check_done = False
    spare.close_if_health_check_failed()
    assert spare.connection is None
    with spare.cursor() as cursor:  # the next request's query gets a fresh connection
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


def test_after_a_database_error_the_check_asks_the_server(spare):
    """A request that had an error takes Django's SELECT 1 (the socket may be quiet while the
    session is not fine)."""
    with spare.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
        cursor.execute("SELECT 'marker'")
    spare.errors_occurred = True
    assert spare.is_usable()
    assert _last_query(pid) == "SELECT 1"
