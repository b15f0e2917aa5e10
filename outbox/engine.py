"""Delivering a leased batch: re-check, send concurrently, record attempts, set next states.

Called by the ``deliver_batch`` actor with the ids a relay leased and the lease's token. Every
state change is conditional on still holding that lease, so a worker that lost its lease (it was
too slow, or died and came back) changes nothing; the attempt it made is still recorded.
Running the same message twice is therefore safe (STYLE: idempotent actors).

Each delivery goes to its channel's transport (:func:`outbox.transports.transport_for`), which
returns :class:`~outbox.transports.Sent` or raises one of the transport errors. What that does is
decided here alone, for every channel, by the class of the outcome (:func:`_effect`):

==================  ===============================  =======  ==========  ================
outcome             delivery                         attempt  retry step  endpoint circuit
==================  ===============================  =======  ==========  ================
Sent                delivered                        row      used        reset
Deferred            pending after ``retry_after``    none     not used    untouched
Throttled           pending after ``retry_after``    row      not used    failure
ReceiverAborted     dead                             row      used        untouched
TargetGone          dead, and the target is retired  row      used        failure
PermanentError      dead                             row      used        failure
TransportError      next step of the schedule, or    row      used        failure
                    dead (:mod:`outbox.policy`)
==================  ===============================  =======  ==========  ================

A gone target (a webhook endpoint that answered 410, a Telegram chat that blocked the bot) is
retired by its transport (:meth:`~outbox.transports.Transport.target_gone`) before the batch's
states are written: whoever sees the delivery dead sees the target retired, and a crash in
between only lets the lease run out: the next try finds the target retired (or gone again).

The endpoints' circuit (consecutive failures, cool-down, disabling after days of failures) is a
policy of webhook endpoints kept in PostgreSQL, shared by every worker: :func:`_breaker_update`.
Telegram deliveries have no endpoint, so no circuit.

Successors are released at completion: the transaction that ends a try of an ordered delivery
(delivered, dead, rescheduled) also issues ``NOTIFY outbox_due`` (:func:`outbox.wakeup.
notify_on_commit`), so the relay claims the stream's next delivery as soon as this one commits,
instead of at its next poll. The relay still decides what is claimable (one in flight per
stream, commit order, pauses, circuits); the worker only says "look again".

One slow endpoint never delays the others: sends to one endpoint take at most
``ENDPOINT_CONCURRENCY`` of a process's send threads (:class:`EndpointLanes`; the rest of its
deliveries wait outside the pool and are deferred, untried, when a try ahead of them fails
slowly), and a batch is recorded as its sends finish, so its fast deliveries commit while a slow
one is still waiting for its receiver. The actor waits for its sends at most
``ACTOR_WAIT_SECONDS``; a slow one still in flight then is recorded by :class:`LateRecorder` when
it finishes, so a hanging receiver never holds the actor threads other endpoints need.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
import uuid
from collections import defaultdict, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.db.models import F
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from core.request_context import reset_request_id, set_request_id
from outbox import metrics, policy, wakeup
from outbox.models import Attempt, Channel, Delivery, DeliveryStatus, WebhookEndpoint
from outbox.selectors import ActivePauses, pauses_active
from outbox.transports import (
    Deferred,
    PermanentError,
    ReceiverAborted,
    Sent,
    TargetGone,
    Throttled,
    Transport,
    TransportError,
    transport_for,
)

logger = logging.getLogger(__name__)

#: Consecutive failed tries after which an endpoint's circuit opens.
BREAKER_THRESHOLD = 10
#: How long an open circuit waits before a single probe.
BREAKER_COOLDOWN = timedelta(seconds=60)
#: An endpoint failing without a single success for this long is disabled.
DISABLE_AFTER = timedelta(days=5)

#: A retry due within this long wakes the relay on commit rather than waiting for its poll.
SOON = timedelta(seconds=1)

_pools: dict[str, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def send_pool(channel: str) -> ThreadPoolExecutor:
    """The threads that send one channel's deliveries, as many as its transport's
    ``concurrency`` (one pool per channel: Telegram sends may sleep in the rate limiter, and
    webhooks keep flowing meanwhile)."""
    with _pools_lock:
        pool = _pools.get(channel)
        if pool is None:
            pool = _pools[channel] = ThreadPoolExecutor(
                max_workers=transport_for(channel).concurrency,
                thread_name_prefix=f"outbox-{channel}",
            )
        return pool


@dataclass
class Result:
    delivery: Delivery
    #: ``provider`` label of ``external_requests_total``.
    provider: str
    sent: Sent | None = None
    error: TransportError | None = None
    started_at: datetime | None = None
    duration_ms: int = 0


@dataclass(frozen=True)
class Effect:
    """What one try's outcome does besides the delivery's next state (the table above)."""

    #: An :class:`~outbox.models.Attempt` row is written (and the try's metrics counted).
    attempt: bool
    #: The try uses up a step of the retry schedule (``Delivery.attempts`` + 1).
    retry_step: bool
    #: The try counts as a failure of the webhook endpoint's circuit.
    circuit_failure: bool
    #: The target is retired (:meth:`~outbox.transports.Transport.target_gone`).
    retire_target: bool = False


_DELIVERED = Effect(attempt=True, retry_step=True, circuit_failure=False)
#: The table of the module docstring: the first class the error is an instance of wins, so a
#: subclass comes before its base.
_EFFECTS: list[tuple[type[TransportError], Effect]] = [
    (Deferred, Effect(attempt=False, retry_step=False, circuit_failure=False)),
    (Throttled, Effect(attempt=True, retry_step=False, circuit_failure=True)),
    (ReceiverAborted, Effect(attempt=True, retry_step=True, circuit_failure=False)),
    (TargetGone, Effect(attempt=True, retry_step=True, circuit_failure=True, retire_target=True)),
    (PermanentError, Effect(attempt=True, retry_step=True, circuit_failure=True)),
    (TransportError, Effect(attempt=True, retry_step=True, circuit_failure=True)),
]


def _effect(error: TransportError | None) -> Effect:
    if error is None:
        return _DELIVERED
    return next(effect for kind, effect in _EFFECTS if isinstance(error, kind))


def _send_one(delivery: Delivery, transport: Transport) -> Result:
    # The API request that caused the event: carried into this thread's log lines.
    token = set_request_id(delivery.event.request_id or None)
    try:
        return _send_one_traced(delivery, transport)
    finally:
        reset_request_id(token)


def _send_one_traced(delivery: Delivery, transport: Transport) -> Result:
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    try:
        sent = transport.send(delivery)
        return Result(
            delivery,
            transport.provider,
            sent=sent,
            started_at=started_at,
            duration_ms=sent.duration_ms,
        )
    except TransportError as exc:
        error = exc
    except Exception as exc:  # a bug or an unexpected library error must not kill the batch
        logger.exception("delivery %s failed unexpectedly", delivery.id)
        error = TransportError(exc.__class__.__name__)
    return Result(
        delivery,
        transport.provider,
        error=error,
        started_at=started_at,
        duration_ms=int((time.perf_counter() - started) * 1000),
    )


#: Sends to one webhook endpoint in flight at once in one worker process. The rest of a batch's
#: deliveries to it wait their turn outside the send pool, so a slow or hanging receiver holds at
#: most this many of the pool's threads (``SEND_CONCURRENCY``) and the others go on serving every
#: other endpoint (issue 11: one slow endpoint never delays the others).
ENDPOINT_CONCURRENCY = 8
#: A failed try that took at least this long (a timeout, a receiver that answers an error after
#: seconds) sends its endpoint's deliveries still waiting for a turn back to pending at once
#: (``Deferred`` for ``SLOW_RETRY_SECONDS``: no attempt, no failure counted) instead of each one
#: waiting out its own timeout. The tries that did fail count towards the endpoint's circuit,
#: which then stops the claims in every process; a delivery that finds the lane free is always
#: sent (it probes the endpoint), so a single delivery keeps its retry schedule.
SLOW_FAILURE_SECONDS = 1.0
SLOW_RETRY_SECONDS = 10.0
#: While a batch still has sends in flight, what has finished is recorded this often, so the
#: fast deliveries of a batch are not held back by its slowest one.
RECORD_EVERY_SECONDS = 0.25
#: How long a batch's actor waits for its sends. Whatever is still in flight then (a receiver
#: that hangs until the HTTP timeout, a Telegram send waiting for the rate limiter) is recorded
#: by :data:`late` when it finishes, and the actor's thread goes back to the broker: a hanging
#: endpoint holds send threads (at most ``ENDPOINT_CONCURRENCY``), never the actor threads that
#: every other endpoint's batches need.
ACTOR_WAIT_SECONDS = 1.0

_Waiting = tuple[Delivery, "Transport", "Future[Result]"]


class EndpointLanes:
    """Admission of webhook sends to the send pool, per endpoint, for the whole process.

    :meth:`submit` answers a future of the try's :class:`Result` at once; the send starts when the
    endpoint has fewer than ``ENDPOINT_CONCURRENCY`` sends running, otherwise it queues behind
    them (first in, first out) and is started by the send that finishes, or deferred if that
    send failed slowly. Telegram deliveries (no endpoint) go straight to their pool: the rate
    limiter paces them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[Any, int] = defaultdict(int)
        self._waiting: dict[Any, deque[_Waiting]] = {}

    def submit(self, delivery: Delivery, transport: Transport) -> Future[Result]:
        key = delivery.endpoint_id if delivery.channel == Channel.WEBHOOK else None
        if key is None:
            return send_pool(delivery.channel).submit(_send_one, delivery, transport)
        outer: Future[Result] = Future()
        with self._lock:
            start = self._running[key] < ENDPOINT_CONCURRENCY
            if start:
                self._running[key] += 1
            else:
                self._waiting.setdefault(key, deque()).append((delivery, transport, outer))
        if start:
            self._start(key, delivery, transport, outer)
        return outer

    def _start(
        self, key: Any, delivery: Delivery, transport: Transport, outer: Future[Result]
    ) -> None:
        inner = send_pool(delivery.channel).submit(_send_one, delivery, transport)
        inner.add_done_callback(lambda done: self._finished(key, done, outer))

    def _finished(self, key: Any, done: Future[Result], outer: Future[Result]) -> None:
        exc = done.exception()
        result = None if exc is not None else done.result()
        slow = result is not None and (
            result.error is not None
            and not isinstance(result.error, Deferred)
            and result.duration_ms >= SLOW_FAILURE_SECONDS * 1000
        )
        flushed: list[_Waiting] = []
        nxt: _Waiting | None = None
        with self._lock:
            queue = self._waiting.get(key)
            if queue and slow:
                flushed, queue = list(queue), None
                self._waiting.pop(key, None)
            if queue:
                nxt = queue.popleft()  # the turn passes on: the running count stays
            else:
                self._waiting.pop(key, None)
                self._running[key] -= 1
                if not self._running[key]:
                    del self._running[key]
        if exc is not None:  # _send_one catches everything; kept so a waiter never hangs
            outer.set_exception(exc)
        else:
            assert result is not None
            outer.set_result(result)
        for delivery, transport, waiter in flushed:
            waiter.set_result(_slow_deferred(delivery, transport))
        if nxt is not None:
            self._start(key, *nxt)


def _slow_deferred(delivery: Delivery, transport: Transport) -> Result:
    return Result(
        delivery,
        transport.provider,
        error=Deferred("endpoint_slow", retry_after=SLOW_RETRY_SECONDS),
        started_at=datetime.now(UTC),
    )


lanes = EndpointLanes()


class LateRecorder:
    """Records the tries a batch's actor stopped waiting for (:data:`ACTOR_WAIT_SECONDS`), in
    one thread per process, as they finish: what finished together is recorded together, per
    lease, exactly as the actor would have (:func:`_record`, conditional on the lease).

    Nothing depends on this thread for correctness: if the process stops before it records a
    try (a shutdown, a crash), the rows stay leased until their lease runs out and go back to
    pending (the receiver sees the same ``webhook-id`` again, as after any crash). Recording
    ends the try of an ordered delivery with ``NOTIFY outbox_due``, so the relay hands its
    stream's successor on.
    """

    def __init__(self) -> None:
        self._finished: queue.SimpleQueue[tuple[uuid.UUID, Future[Result]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        #: Tries adopted and not yet recorded.
        self.outstanding = 0

    def adopt(self, futures: set[Future[Result]], token: uuid.UUID) -> None:
        with self._lock:
            self.outstanding += len(futures)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="outbox-late-recorder", daemon=True
                )
                self._thread.start()
        for future in futures:
            future.add_done_callback(functools.partial(self._done, token))

    def _done(self, token: uuid.UUID, future: Future[Result]) -> None:
        self._finished.put((token, future))

    def _run(self) -> None:
        while True:
            finished = [self._finished.get()]
            time.sleep(RECORD_EVERY_SECONDS)  # gather what finishes together, as the actor does
            while True:
                try:
                    finished.append(self._finished.get_nowait())
                except queue.Empty:
                    break
            by_lease: dict[uuid.UUID, list[Result]] = defaultdict(list)
            for token, future in finished:
                if future.exception() is None:  # _send_one catches everything
                    by_lease[token].append(future.result())
            for token, results in by_lease.items():
                try:
                    _record(results, token=token, counts=defaultdict(int))
                except Exception:
                    logger.exception(
                        "recording late tries failed; their leases will run out",
                        extra={"count": len(results)},
                    )
            with self._lock:
                self.outstanding -= len(finished)
                idle = not self.outstanding
            if idle:  # late tries are rare (slow receivers): no connection held between them
                connections.close_all()
            else:
                close_old_connections()


late = LateRecorder()


#: An ordered webhook stream: (endpoint id, customer id).
Stream = tuple[Any, Any]


def deliveries_process(
    *,
    delivery_ids: list[int],
    lease_token: str,
    released: set[Stream] | None = None,
    pauses_checked: bool = False,
) -> dict[str, int]:
    """Deliver the leased rows; returns counts by outcome.

    ``released`` collects the ordered webhook streams whose delivery ended here (delivered or
    dead), whose next delivery may now go (:func:`outbox.relay.deliveries_deliver` hands it on).
    Rows paused since they were claimed go back to pending untried, unless ``pauses_checked``:
    the caller leased them a moment ago in a statement that checked the pauses itself (the
    successors' hand-on), so a pause can only have come in since, as it could during the send.
    """
    token = uuid.UUID(str(lease_token))
    rows = list(
        Delivery.objects.filter(
            id__in=delivery_ids, status=DeliveryStatus.LEASED, lease_token=token
        )
        .select_related("event", "endpoint")
        .order_by("id")
    )
    counts: dict[str, int] = defaultdict(int)
    if not rows:
        return dict(counts)
    pauses = ActivePauses() if pauses_checked else pauses_active()
    now = timezone.now()
    held: list[int] = []
    to_send: list[Delivery] = []
    disabled: list[Delivery] = []
    for delivery in rows:
        if pauses.holds(delivery):
            held.append(delivery.id)
        elif delivery.channel == Channel.WEBHOOK and (
            delivery.endpoint is None or not delivery.endpoint.is_enabled
        ):
            disabled.append(delivery)
        else:
            to_send.append(delivery)
    if held:
        # Paused after the relay claimed them: back to pending, no try counted.
        Delivery.objects.filter(
            id__in=held, lease_token=token, status=DeliveryStatus.LEASED
        ).update(
            status=DeliveryStatus.PENDING, lease_token=None, lease_expires_at=None, updated_at=now
        )
        counts["held"] = len(held)
    for delivery in disabled:
        reason = delivery.endpoint.disabled_reason if delivery.endpoint else "endpoint deleted"
        Delivery.objects.filter(
            id=delivery.id, lease_token=token, status=DeliveryStatus.LEASED
        ).update(
            status=DeliveryStatus.DEAD,
            lease_token=None,
            lease_expires_at=None,
            updated_at=now,
            last_error=f"endpoint disabled: {reason}"[:500],
        )
        counts["dead"] += 1
    if disabled:
        # Each dead row releases its stream's next delivery (which dies the same way).
        wakeup.notify_on_commit()

    pending: set[Future[Result]] = {lanes.submit(d, transport_for(d.channel)) for d in to_send}
    give_up_at = time.monotonic() + ACTOR_WAIT_SECONDS
    while pending:
        left = give_up_at - time.monotonic()
        if left <= 0:
            late.adopt(pending, token)  # recorded when they finish; this thread goes on
            counts["late"] = len(pending)
            break
        step = min(RECORD_EVERY_SECONDS, left)
        done, pending = wait(pending, timeout=step, return_when=FIRST_COMPLETED)
        if pending:  # gather what else finishes within the interval, then record it together
            more, pending = wait(pending, timeout=step)
            done |= more
        if done:
            _record([f.result() for f in done], token=token, counts=counts, released=released)
    return dict(counts)


def _schedule_for(delivery: Delivery) -> list[int]:
    if delivery.endpoint is not None and delivery.endpoint.retry_schedule:
        return [int(s) for s in delivery.endpoint.retry_schedule]
    return list(settings.OUTBOX_RETRY_SCHEDULE)


def _attempt_row(result: Result, now: datetime) -> Attempt:
    sent, error = result.sent, result.error
    return Attempt(
        delivery_id=result.delivery.id,
        started_at=result.started_at or now,
        duration_ms=result.duration_ms,
        status_code=sent.status_code if sent else error.status_code if error else None,
        error_class=error.error_class[:100] if error else "",
        response_excerpt=((sent.excerpt if sent else error.excerpt if error else "") or "")[:500],
        request_headers=dict(
            sent.request_headers if sent else error.request_headers if error else {}
        ),
    )


def _count(result: Result, now: datetime) -> None:
    """The delivery metrics of one try that reached the provider (deferred ones did not)."""
    d, error = result.delivery, result.error
    if error is None:
        metrics.external_result(
            result.provider, status_code=result.sent.status_code if result.sent else None, ok=True
        )
        metrics.OUTBOUND_SEND_SUCCESS.labels(d.channel).inc()
        metrics.COMMIT_TO_DELIVERED.labels(d.channel).observe(
            max((now - d.event.created_at).total_seconds(), 0)
        )
        return
    metrics.external_result(
        result.provider,
        status_code=error.status_code,
        ok=False,
        error=error.status_code is None,
    )
    metrics.OUTBOUND_SEND_FAILED.labels(d.channel).inc()
    if error.status_code == 429:
        metrics.OUTBOUND_429.labels(d.channel).inc()


def _target_retire(result: Result) -> None:
    error = result.error
    assert isinstance(error, TargetGone)
    d = result.delivery
    try:
        transport_for(d.channel).target_gone(d, reason=error.reason)
    except Exception:  # the delivery still ends; the target's next delivery retires it again
        logger.exception("delivery target not retired", extra={"delivery_id": d.id})


def _failure_log(result: Result) -> None:
    """One structured line per failed try, so that ``grep 429`` or ``grep merchant_webhook`` in
    the worker's log confirms an incident (the Attempt row holds the same facts). Never the
    URL's query, the secret or the response body: only ids, the status and the error class."""
    d, error = result.delivery, result.error
    assert error is not None
    logger.warning(
        "delivery attempt failed",
        extra={
            "delivery_id": d.id,
            "channel": d.channel,
            "provider": result.provider,
            "merchant_id": str(d.merchant_id),
            "endpoint_id": str(d.endpoint_id) if d.endpoint_id else None,
            "status": error.status_code,
            "error_class": error.error_class,
            "attempt": d.attempts + 1,
            "request_id": d.event.request_id or None,
        },
    )


def _stream_of(d: Delivery) -> Stream | None:
    if d.channel != Channel.WEBHOOK or not d.ordered or d.customer_id is None:
        return None
    return (d.endpoint_id, d.customer_id)


def _record(
    results: list[Result],
    *,
    token: uuid.UUID,
    counts: dict[str, int],
    released: set[Stream] | None = None,
) -> None:
    now = timezone.now()
    attempts: list[Attempt] = []
    delivered: list[Result] = []
    failed: list[tuple[Result, Effect]] = []
    deferred: list[Result] = []
    endpoint_ok: set[Any] = set()
    endpoint_reset: set[Any] = set()
    endpoint_failures: dict[Any, int] = defaultdict(int)
    for result in results:
        d, error = result.delivery, result.error
        effect = _effect(error)
        if not effect.attempt:
            # Nothing was sent (no rate-limiter slot in time): no try and no failure to count.
            deferred.append(result)
            continue
        attempts.append(_attempt_row(result, now))
        _count(result, now)
        if error is None:
            delivered.append(result)
            if d.endpoint is not None:
                endpoint_ok.add(d.endpoint_id)
                # Only endpoints with a failure streak need their breaker reset (saves a write).
                if d.endpoint.consecutive_failures or d.endpoint.failing_since:
                    endpoint_reset.add(d.endpoint_id)
            continue
        failed.append((result, effect))
        _failure_log(result)
        if d.endpoint_id and effect.circuit_failure:
            endpoint_failures[d.endpoint_id] += 1
        if effect.retire_target:
            _target_retire(result)

    # Wake the relay on commit when a stream's next delivery may now be claimable, or when a
    # row comes due again before the relay's next poll would see it.
    # A webhook stream the caller hands on itself (``released`` given) needs no wake-up: the
    # relay would only race the worker for the successor and send it the slow way round.
    wake = any(
        r.delivery.ordered and (released is None or _stream_of(r.delivery) is None) for r in results
    )
    with transaction.atomic():
        Attempt.objects.bulk_create(attempts)
        if delivered:
            n = Delivery.objects.filter(
                id__in=[r.delivery.id for r in delivered],
                lease_token=token,
                status=DeliveryStatus.LEASED,
            ).update(
                status=DeliveryStatus.DELIVERED,
                delivered_at=now,
                attempts=F("attempts") + 1,
                lease_token=None,
                lease_expires_at=None,
                last_error="",
                last_status_code=None,
                updated_at=now,
            )
            counts["delivered"] += n
            if released is not None:
                released.update(
                    stream for r in delivered if (stream := _stream_of(r.delivery)) is not None
                )
        for result, effect in failed:
            d, error = result.delivery, result.error
            assert error is not None
            decision = policy.decide(
                attempts_done=d.attempts + 1,
                schedule=_schedule_for(d),
                now=now,
                status_code=error.status_code,
                retry_after=error.retry_after,
                permanent=error.permanent,
                # A try that uses no step (Telegram's 429) waits exactly retry_after.
                throttled=not effect.retry_step,
            )
            message = error.error_class
            if error.excerpt:
                message = f"{message}: {error.excerpt}"
            Delivery.objects.filter(
                id=d.id, lease_token=token, status=DeliveryStatus.LEASED
            ).update(
                status=DeliveryStatus.DEAD if decision.dead else DeliveryStatus.PENDING,
                next_attempt_at=decision.next_attempt_at or d.next_attempt_at,
                attempts=F("attempts") + (1 if effect.retry_step else 0),
                lease_token=None,
                lease_expires_at=None,
                last_error=message[:500],
                last_status_code=error.status_code,
                updated_at=now,
            )
            counts["dead" if decision.dead else "retry"] += 1
            if decision.dead and released is not None and (stream := _stream_of(d)) is not None:
                released.add(stream)
            if decision.next_attempt_at is not None and decision.next_attempt_at <= now + SOON:
                wake = True
        for result in deferred:
            error = result.error
            assert error is not None
            Delivery.objects.filter(
                id=result.delivery.id, lease_token=token, status=DeliveryStatus.LEASED
            ).update(
                status=DeliveryStatus.PENDING,
                next_attempt_at=now + timedelta(seconds=error.retry_after or 1.0),
                lease_token=None,
                lease_expires_at=None,
                updated_at=now,
            )
            counts["deferred"] += 1
        _breaker_update(endpoint_ok, endpoint_reset, endpoint_failures, now)
        if wake and results:
            wakeup.notify_on_commit()


def _breaker_update(ok: set[Any], reset: set[Any], failures: dict[Any, int], now: datetime) -> None:
    if reset:
        WebhookEndpoint.objects.filter(id__in=reset).exclude(
            consecutive_failures=0, failing_since=None
        ).update(consecutive_failures=0, failing_since=None, circuit_open_until=None)
    for endpoint_id, count in failures.items():
        if endpoint_id in ok:
            continue
        WebhookEndpoint.objects.filter(id=endpoint_id).update(
            consecutive_failures=F("consecutive_failures") + count,
            failing_since=Coalesce(F("failing_since"), now),
        )
        WebhookEndpoint.objects.filter(
            id=endpoint_id, consecutive_failures__gte=BREAKER_THRESHOLD
        ).update(
            circuit_open_until=Greatest(
                Coalesce(F("circuit_open_until"), now), now + BREAKER_COOLDOWN
            )
        )
        WebhookEndpoint.objects.filter(
            id=endpoint_id, is_enabled=True, failing_since__lt=now - DISABLE_AFTER
        ).update(
            is_enabled=False,
            disabled_reason=f"failing without a success since more than {DISABLE_AFTER.days} days",
        )
