"""core.local_cache: per-process copies dropped on announced change, in every process.

Two LocalCache objects of one name stand for two processes sharing the Redis version key.
"""

from __future__ import annotations

import uuid

import pytest

from core import local_cache
from core.cache import cache_breaker
from core.local_cache import LocalCache

# invalidate() defers to transaction.on_commit, which runs at once outside a transaction.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def every_lookup_checks_the_version(monkeypatch):
    # The real check runs at most once a second; 0 makes each lookup check (no timing).
    monkeypatch.setattr(local_cache, "VERSION_CHECK_SECONDS", 0.0)
    # The announcement goes through Redis: a breaker left open by an earlier test that stopped
    # Redis (tests/outbox) would skip it, as it should while Redis is away.
    cache_breaker.succeeded()


def test_a_copy_serves_until_another_process_announces_a_change(
    every_lookup_checks_the_version,
):
    name = f"test-{uuid.uuid4()}"
    here, there = (
        LocalCache[str](name, max_age=lambda: 60),
        LocalCache[str](name, max_age=lambda: 60),
    )
    assert there.get("k", lambda: "old") == "old"
    assert there.get("k", lambda: "new") == "old"  # cached, nothing announced
    here.invalidate()  # outside a transaction: announced at once
    assert there.get("k", lambda: "new") == "new"


def test_the_age_bound_holds_without_any_announcement(every_lookup_checks_the_version):
    age = {"max": 60.0}
    cache = LocalCache[str](f"test-{uuid.uuid4()}", max_age=lambda: age["max"])
    assert cache.get("k", lambda: "old") == "old"
    age["max"] = 0.0
    assert cache.get("k", lambda: "new") == "new"


def test_a_load_that_raced_with_an_invalidation_is_not_kept(every_lookup_checks_the_version):
    cache = LocalCache[str](f"test-{uuid.uuid4()}", max_age=lambda: 60)

    def load_while_changed() -> str:
        cache.invalidate()  # the row changed while we were reading the old one
        return "old"

    assert cache.get("k", load_while_changed) == "old"
    assert cache.get("k", lambda: "new") == "new"


def test_made_up_keys_cannot_grow_the_copy_without_bound(every_lookup_checks_the_version):
    """Misses are cached too (an unknown API key prefix): the copy stays within max_entries."""
    cache = LocalCache[str | None](f"test-{uuid.uuid4()}", max_age=lambda: 60, max_entries=50)
    loads = []
    for n in range(500):
        cache.get(f"made-up-{n}", lambda n=n: loads.append(n))
        assert len(cache._entries) <= 50
    assert len(loads) == 500  # every made-up key was looked up once
    cache.get("kept", lambda: "row")
    assert cache.get("kept", lambda: "reloaded") == "row"  # and the cache still works
