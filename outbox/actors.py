"""Dramatiq actors of the outbox: thin, idempotent, ids only."""

from __future__ import annotations

import dramatiq

from core.redis_connection import OUTBOUND_QUEUE
from outbox.relay import deliveries_deliver

#: A batch that is still running after this long is abandoned; its lease will expire.
DELIVER_TIME_LIMIT_MS = 120_000


@dramatiq.actor(queue_name=OUTBOUND_QUEUE, max_retries=0, time_limit=DELIVER_TIME_LIMIT_MS)
def deliver_batch(delivery_ids: list[int], lease_token: str) -> None:
    """Deliver leased rows and hand their streams' successors on (:func:`deliveries_deliver`).
    Retries live in PostgreSQL, so the broker never retries this."""
    deliveries_deliver(delivery_ids=delivery_ids, lease_token=lease_token)


def enqueue(delivery_ids: list[int], lease_token: str) -> None:
    deliver_batch.send(delivery_ids, lease_token)
