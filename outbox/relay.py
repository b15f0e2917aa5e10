"""The relay: claims due deliveries under a lease and hands their ids to the workers.

Claiming is ``SELECT ... FOR UPDATE SKIP LOCKED`` on the partial index of pending rows followed by
a conditional update to ``leased`` in the same transaction, so any number of relays can run at
once without claiming a row twice. Rows whose lease ran out (their worker died) go back to
pending. The relay also hosts every app's periodic jobs (:mod:`core.jobs`).

The relay never waits a poll for work that is ready: a commit that records deliveries, a worker
that finishes a try of an ordered delivery (its successor is now claimable), a resume, a replay
or a cancel all ``NOTIFY outbox_due`` on commit; and between wake-ups the loop sleeps only until
the earliest pending retry comes due (:func:`~outbox.selectors.delivery_next_due_at`), at most a
poll interval, which remains the fallback for a lost notification.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, connections, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from core.jobs import PeriodicJob
from outbox import wakeup
from outbox.engine import BREAKER_COOLDOWN, BREAKER_THRESHOLD, Stream, deliveries_process
from outbox.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    OutboxPause,
    PauseScope,
    WebhookEndpoint,
)
from outbox.selectors import delivery_next_due_at, pauses_active
from outbox.wakeup import Listener, relay_database_settings

logger = logging.getLogger(__name__)

#: Most ids per broker message; a worker sends one message's deliveries concurrently.
MESSAGE_CHUNK = 50
#: A claim is cut into at least this many messages while they keep ``MESSAGE_MIN`` ids each, so
#: that every worker process takes a share (each holds at most ``OUTBOUND_PREFETCH`` of them,
#: :mod:`core.redis_connection`): the worker that delivers an ordered stream's head hands the
#: stream on, so the heads' messages decide how many processes drain a backlog of streams.
MESSAGE_SPREAD = 8
MESSAGE_MIN = 10
#: Longest sleep between polls when nothing wakes the relay.
POLL_INTERVAL_SECONDS = 1.0
#: How long a worker goes on delivering the successors of the streams it finished.
HAND_ON_SECONDS = 10.0
#: Shortest sleep before a retry that is about to come due (keeps the loop from spinning).
MIN_SLEEP_SECONDS = 0.01
#: Shortest time between two claim passes. Every commit that records deliveries wakes the relay;
#: at a hundred commits a second a pass per commit would cost the relay most of a core for one
#: row each, so nudges that arrive within this window after a pass are served by one pass at its
#: end: at most this much added latency under load, none when the relay was idle. Measured
#: (bench_delivery, 200 events/s offered over 200 customers on 2 cores): a pass per commit cost
#: the relay 42 % of a core at 125/s and the committers reached 125/s; 20 ms: 31 %, 142-156/s,
#: p99 165-217 ms; 50 ms: 179-199/s offered, p99 213-226 ms; 100 ms: 200/s, p99 251 ms.
MIN_PASS_INTERVAL_SECONDS = 0.05

_ACTIVE = [DeliveryStatus.PENDING, DeliveryStatus.LEASED]


@dataclass(frozen=True)
class Claim:
    token: uuid.UUID
    ids: list[int]


def _ordered_ok() -> Q:
    """A delivery may go only when no earlier one for the same customer and target is open."""
    earlier_webhook = Delivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"),
        customer_id=OuterRef("customer_id"),
        status__in=_ACTIVE,
        id__lt=OuterRef("id"),
    )
    earlier_chat = Delivery.objects.filter(
        channel=Channel.TELEGRAM,
        telegram_chat_id=OuterRef("telegram_chat_id"),
        status__in=_ACTIVE,
        id__lt=OuterRef("id"),
    )
    return (
        Q(ordered=False)
        | Q(channel=Channel.WEBHOOK, customer_id__isnull=True)
        | (Q(channel=Channel.WEBHOOK, customer_id__isnull=False) & ~Exists(earlier_webhook))
        | (Q(channel=Channel.TELEGRAM) & ~Exists(earlier_chat))
    )


def deliveries_claim(
    *, batch: int, lease_seconds: int, now: datetime | None = None, only: Q | None = None
) -> Claim | None:
    """Lease up to ``batch`` due deliveries, honouring pauses, circuits and ordering.

    ``only`` narrows the claim (the successors of given streams); half-open probes are then left
    to the relay's own claim."""
    now = now or timezone.now()
    token = uuid.uuid4()
    with transaction.atomic():
        pauses = pauses_active()
        if pauses.is_global:
            return None
        tripped = list(
            WebhookEndpoint.objects.filter(consecutive_failures__gte=BREAKER_THRESHOLD).values_list(
                "id", "circuit_open_until"
            )
        )
        blocked_endpoints = set(pauses.endpoints) | {eid for eid, _ in tripped}
        qs = Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        if pauses.channels:
            qs = qs.exclude(channel__in=pauses.channels)
        if pauses.merchants:
            qs = qs.exclude(merchant_id__in=pauses.merchants)
        if blocked_endpoints:
            qs = qs.exclude(endpoint_id__in=blocked_endpoints)
        if only is not None:
            qs = qs.filter(only)
            tripped = []
        ids = list(
            qs.filter(_ordered_ok())
            .order_by("next_attempt_at", "id")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:batch]
        )
        # Half-open circuits: one probe each, the right to probe taken by a conditional update.
        for endpoint_id, open_until in tripped:
            if endpoint_id in pauses.endpoints or (open_until and open_until > now):
                continue
            took = (
                WebhookEndpoint.objects.filter(id=endpoint_id)
                .filter(Q(circuit_open_until__lte=now) | Q(circuit_open_until=None))
                .update(circuit_open_until=now + BREAKER_COOLDOWN)
            )
            if not took:
                continue
            probe = (
                Delivery.objects.filter(
                    status=DeliveryStatus.PENDING, next_attempt_at__lte=now, endpoint_id=endpoint_id
                )
                .exclude(merchant_id__in=pauses.merchants)
                .exclude(channel__in=pauses.channels)
                .filter(_ordered_ok())
                .order_by("next_attempt_at", "id")
                .select_for_update(skip_locked=True)
                .values_list("id", flat=True)[:1]
            )
            ids.extend(probe)
        if not ids:
            return None
        Delivery.objects.filter(id__in=ids, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.LEASED,
            lease_token=token,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            updated_at=now,
        )
    return Claim(token=token, ids=ids)


#: The streams' successors, leased in one statement: each stream's head (its lowest open id, one
#: step on ``delivery_order_idx``) if it is pending, due, its endpoint's circuit is not tripped
#: and no active pause (global, the webhook channel, its merchant, its endpoint) holds it. Only
#: the head can be claimable (every later row has an earlier open one), so this is the relay's
#: ordering rule without its ``NOT EXISTS`` over the stream; the conditional ``status`` makes it
#: safe against a relay claiming the same row at once (its ``FOR UPDATE`` holds the row, and
#: under READ COMMITTED this UPDATE re-reads the row's status after waiting). The active pauses
#: are read once (``pause_active_idx``), not per stream. The heads are collected first, once
#: (``ARRAY(...)``, an init plan), and leased by primary key: as ``id IN (...)`` the planner,
#: trusting statistics from before a backlog built up ("1 pending row"), ran the 200 streams'
#: probes once per pending row (720 ms per claim at 3,000 pending, seen in the bench).
_SUCCESSORS_LEASE = """
WITH paused AS MATERIALIZED (
    SELECT scope, merchant_id, endpoint_id, channel FROM {pause} WHERE resumed_at IS NULL
)
UPDATE {delivery} SET status = %(leased)s, lease_token = %(token)s,
    lease_expires_at = %(expires)s, updated_at = %(now)s
WHERE status = %(pending)s AND id = ANY(ARRAY(
    SELECT head.id
    FROM unnest(%(endpoints)s::uuid[], %(customers)s::uuid[]) AS stream(endpoint_id, customer_id)
    JOIN {endpoint} e ON e.id = stream.endpoint_id AND e.consecutive_failures < %(threshold)s
    CROSS JOIN LATERAL (
        SELECT id, status, ordered, next_attempt_at, merchant_id FROM {delivery} d
        WHERE d.endpoint_id = stream.endpoint_id AND d.customer_id = stream.customer_id
          AND d.status IN (%(pending)s, %(leased)s)
        ORDER BY d.id LIMIT 1
    ) head
    WHERE head.status = %(pending)s AND head.ordered AND head.next_attempt_at <= %(now)s
      AND NOT EXISTS (
        SELECT 1 FROM paused p
        WHERE p.scope = %(global)s
           OR (p.scope = %(channel)s AND p.channel = %(webhook)s)
           OR (p.scope = %(merchant)s AND p.merchant_id = head.merchant_id)
           OR (p.scope = %(endpoint_scope)s AND p.endpoint_id = stream.endpoint_id)
      )
))
RETURNING id
"""


@functools.cache
def _successors_sql() -> str:
    quote = connection.ops.quote_name
    return _SUCCESSORS_LEASE.format(
        delivery=quote(Delivery._meta.db_table),
        endpoint=quote(WebhookEndpoint._meta.db_table),
        pause=quote(OutboxPause._meta.db_table),
    )


def successors_params(
    streams: set[Stream], *, token: uuid.UUID, lease_seconds: int, now: datetime | None = None
) -> dict[str, Any]:
    """The parameters of :data:`_SUCCESSORS_LEASE` (the streams in a fixed order)."""
    now = now or timezone.now()
    ordered = sorted(streams)
    return {
        "leased": DeliveryStatus.LEASED,
        "pending": DeliveryStatus.PENDING,
        "token": token,
        "expires": now + timedelta(seconds=lease_seconds),
        "now": now,
        "endpoints": [e for e, _ in ordered],
        "customers": [c for _, c in ordered],
        "threshold": BREAKER_THRESHOLD,
        "global": PauseScope.GLOBAL,
        "channel": PauseScope.CHANNEL,
        "webhook": Channel.WEBHOOK,
        "merchant": PauseScope.MERCHANT,
        "endpoint_scope": PauseScope.ENDPOINT,
    }


def successors_claim(
    *, streams: set[Stream], lease_seconds: int, now: datetime | None = None
) -> Claim | None:
    """Lease the next delivery of each of ``streams`` (ordered webhook streams whose delivery
    just finished), as :func:`deliveries_claim` narrowed to them would, in ONE statement (its
    own transaction): global, channel, merchant and endpoint pauses and tripped circuits are
    honoured (a stream behind a tripped endpoint is left to the relay's half-open probe).

    PostgreSQL only (``unnest``, ``LATERAL``); elsewhere (the SQLite of ``make run``) it is
    :func:`deliveries_claim` with ``only``."""
    if connection.vendor != "postgresql":
        only = Q()
        for endpoint_id, customer_id in streams:
            only |= Q(endpoint_id=endpoint_id, customer_id=customer_id)
        return deliveries_claim(batch=len(streams), lease_seconds=lease_seconds, only=only)
    token = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            _successors_sql(),
            successors_params(streams, token=token, lease_seconds=lease_seconds, now=now),
        )
        ids = sorted(row[0] for row in cursor.fetchall())
    return Claim(token=token, ids=ids) if ids else None


def deliveries_deliver(
    *,
    delivery_ids: list[int],
    lease_token: str,
    budget_seconds: float = HAND_ON_SECONDS,
    lease_seconds: int | None = None,
) -> dict[str, int]:
    """Deliver a leased batch, then hand each finished ordered webhook stream its next delivery
    in this same worker, for up to ``budget_seconds``: a stream then drains at the receiver's
    pace, without a relay round trip and a broker fetch per delivery.

    The successors are claimed like the relay claims (:func:`deliveries_claim` narrowed to those
    streams): only when due, not paused, the endpoint's circuit closed, nothing earlier open in
    the stream, leased under a fresh token, so a worker that dies mid-chain leaves rows that
    recover like any other. When the budget is spent the NOTIFY of each try lets the relay go on.
    """
    released: set[Stream] = set()
    counts = deliveries_process(
        delivery_ids=delivery_ids, lease_token=lease_token, released=released
    )
    deadline = time.monotonic() + budget_seconds
    lease = lease_seconds or settings.OUTBOX_LEASE_SECONDS
    while released and time.monotonic() < deadline:
        claim = successors_claim(streams=released, lease_seconds=lease)
        if claim is None:
            break
        released = set()
        more = deliveries_process(
            delivery_ids=claim.ids,
            lease_token=str(claim.token),
            released=released,
            pauses_checked=True,
        )
        for key, value in more.items():
            counts[key] = counts.get(key, 0) + value
        counts["handed_on"] = counts.get("handed_on", 0) + len(claim.ids)
    if released:
        # Out of budget, or the successor is not claimable yet: over to the relay.
        wakeup.notify_on_commit()
    return counts


def leases_recover(*, now: datetime | None = None) -> int:
    """Expired leases (a worker died or lost its message) go back to pending."""
    now = now or timezone.now()
    count = Delivery.objects.filter(status=DeliveryStatus.LEASED, lease_expires_at__lt=now).update(
        status=DeliveryStatus.PENDING, lease_token=None, lease_expires_at=None, updated_at=now
    )
    if count:
        logger.warning("recovered expired leases", extra={"count": count})
    return count


def claim_release(claim: Claim) -> None:
    """Give a claim back at once, e.g. when the broker refused the message."""
    Delivery.objects.filter(
        id__in=claim.ids, lease_token=claim.token, status=DeliveryStatus.LEASED
    ).update(
        status=DeliveryStatus.PENDING,
        lease_token=None,
        lease_expires_at=None,
        updated_at=timezone.now(),
    )


def message_chunks(ids: list[int]) -> list[list[int]]:
    """``ids`` in order, in messages of ``MESSAGE_MIN`` to ``MESSAGE_CHUNK`` ids, as many as
    ``MESSAGE_SPREAD`` where that keeps them in that range."""
    size = max(MESSAGE_MIN, min(MESSAGE_CHUNK, math.ceil(len(ids) / MESSAGE_SPREAD)))
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def relay_database_use() -> bool:
    """Make ``RELAY_DATABASE_URL`` this process's default connection; call before first use.

    Only the relay process calls it; the api and the workers keep ``DATABASE_URL`` (PgBouncer).
    The default connection is switched rather than a second alias added because the relay, its
    periodic jobs and the selectors they call all use the default one implicitly
    (``transaction.atomic()``, ``Model.objects``, ``connection.cursor()``): a database router
    steers queries but not ``transaction.atomic()``, so a second alias would have split one
    claim (``SELECT ... FOR UPDATE`` and its ``UPDATE``) across two connections.
    """
    direct = relay_database_settings()
    if direct is None:
        return False
    connections.close_all()
    # Connection wrappers keep a reference to this very dict (settings.DATABASES["default"]), so
    # updating it in place also redirects the ones other threads create later.
    entry = connections.settings["default"]
    entry.clear()
    entry.update(direct)
    return True


class Relay:
    """The relay loop; ``enqueue(ids, token)`` hands one chunk to the workers."""

    def __init__(
        self,
        *,
        enqueue: Callable[[list[int], str], None],
        batch: int | None = None,
        lease_seconds: int | None = None,
        jobs: list[PeriodicJob] | None = None,
        poll_seconds: float = POLL_INTERVAL_SECONDS,
    ) -> None:
        self.enqueue = enqueue
        self.batch = batch or settings.OUTBOX_RELAY_BATCH
        self.lease_seconds = lease_seconds or settings.OUTBOX_LEASE_SECONDS
        self.jobs = jobs or []
        self.poll_seconds = poll_seconds
        #: Times a NOTIFY (a commit, a finished delivery) woke the loop before its poll was due.
        self.wakeups = 0
        self.listener = Listener()
        self.stop_event = threading.Event()

    def run_once(self) -> int:
        """Claim and enqueue until nothing is due; returns deliveries handed out."""
        handed = 0
        while not self.stop_event.is_set():
            claim = deliveries_claim(batch=self.batch, lease_seconds=self.lease_seconds)
            if claim is None:
                break
            try:
                for chunk in message_chunks(claim.ids):
                    self.enqueue(chunk, str(claim.token))
            except Exception as exc:
                # The broker is away: keep the rows in PostgreSQL, pending, and try again later.
                logger.error(
                    "broker refused deliveries; released", extra={"error": exc.__class__.__name__}
                )
                claim_release(claim)
                self.stop_event.wait(1.0)
                break
            handed += len(claim.ids)
            if len(claim.ids) < self.batch:
                break
        return handed

    def sleep_seconds(self) -> float:
        """Until the next retry comes due, at most a poll interval (NOTIFY cuts it short)."""
        now = timezone.now()
        due_at = delivery_next_due_at(now=now)
        if due_at is None:
            return self.poll_seconds
        return min(self.poll_seconds, max((due_at - now).total_seconds(), MIN_SLEEP_SECONDS))

    def run_jobs(self) -> None:
        now = time.monotonic()
        for job in self.jobs:
            if now >= job.next_at:
                job.next_at = now + job.every_seconds
                try:
                    job.run()
                except Exception:
                    logger.exception("periodic job %s failed", job.name)

    def run_forever(self) -> None:
        logger.info(
            "outbox relay started", extra={"batch": self.batch, "lease_seconds": self.lease_seconds}
        )
        while not self.stop_event.is_set():
            passed_at = time.monotonic()
            try:
                self.run_jobs()
                self.run_once()
                timeout = self.sleep_seconds()
            except Exception:
                logger.exception("relay iteration failed; retrying")
                close_old_connections()
                self.stop_event.wait(1.0)
                continue
            close_old_connections()
            if self.listener.wait(timeout):
                self.wakeups += 1
                early = passed_at + MIN_PASS_INTERVAL_SECONDS - time.monotonic()
                if early > 0:
                    # Let the commits of the next few milliseconds join this pass.
                    self.stop_event.wait(early)
                    self.listener.drain()
        self.listener.close()

    def stop(self) -> None:
        self.stop_event.set()
