"""A chaos run with a ledger (after the rig of JasperFx's Wolverine): purchases stream in for a
while a driver SIGKILLs the relay or the worker at random, restarts Redis, and makes one of two
receivers fail and time out for a stretch; at the end :func:`ledger_check` holds the outbox and
what the receivers saw against each other.

Used by ``tests/chaos/test_chaos.py`` (a short run in ``make test``) and ``bench/bench_chaos.py``
(the long one). Everything is real: the relay and the Dramatiq worker are processes
(:class:`tests.fixtures.processes.Stack`), the receivers a threaded HTTP server on loopback,
Redis is stopped and started by ``.ci/services.sh``.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import connections

from loyalty.services import purchase_commit
from outbox.models import Delivery, DeliveryStatus, OutboxEvent
from outbox.services import webhook_endpoint_create
from tests.factories import make_customer, make_merchant
from tests.fixtures.processes import Stack
from tests.fixtures.receiver import Received, Receiver

#: The retry schedule of the run's processes: long enough to outlast the failing stretch.
RETRY_SCHEDULE = "0,1,2,2,2,2,2,2"
#: How long the failing receiver hangs (longer than the processes' 2 s client timeout).
HANG_SECONDS = 2.5


@dataclass
class ChaosReport:
    seconds: float
    committed_events: int
    deliveries: int
    delivered: int
    dead_by_policy: int
    requests: int
    duplicates: int
    actions: Counter[str] = field(default_factory=Counter)
    #: Requests the flaky receiver failed (500) or let time out.
    failures_answered: int = 0

    def line(self) -> str:
        acts = ", ".join(f"{k} x{v}" for k, v in sorted(self.actions.items()))
        return (
            f"chaos {self.seconds:.0f} s: {self.committed_events} events committed, "
            f"{self.deliveries} deliveries: {self.delivered} delivered, {self.dead_by_policy} dead "
            f"by policy; {self.requests} requests ({self.duplicates} redeliveries, "
            f"{self.failures_answered} failed or timed out by the flaky receiver); {acts}"
        )


@dataclass
class ChaosRun:
    """Set up a merchant with two ordered endpoints (``/steady``, ``/flaky``) and customers."""

    stack: Stack
    receiver: Receiver
    services_dir: str
    customers: int = 20
    rate: float = 15.0
    seed: int = 0
    flaky_from: float = 2.0
    flaky_for: float = 10.0
    actions: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)  # the driver's plan
        self._commit_random = random.Random(self.seed + 1)  # the committer's customers
        self.setup = make_merchant("Chaos")
        for kind in ("steady", "flaky"):
            webhook_endpoint_create(merchant=self.setup.merchant, url=f"{self.receiver.url}/{kind}")
        self.people = [make_customer(self.setup.merchant) for _ in range(self.customers)]
        self._t0 = 0.0
        self._stop = threading.Event()
        self._committed = 0
        self.failures_answered = 0
        self._plan: list[str] = []
        self._commit_errors: list[BaseException] = []
        self.receiver.respond = self._respond

    # ------------------------------------------------------------------ the pieces

    def _respond(self, req: Received, n: int) -> tuple[int, dict[str, str], bytes, float]:
        elapsed = time.monotonic() - self._t0 if self._t0 else -1.0
        if (
            req.path.endswith("/flaky")
            and self.flaky_from <= elapsed < self.flaky_from + self.flaky_for
        ):
            self.failures_answered += 1
            if n % 2:
                return 500, {}, b"flaky", 0.0
            return 200, {}, b"", HANG_SECONDS  # the client gives up first: a timeout
        return 200, {}, b"", 0.0

    def _commit_loop(self) -> None:
        i = 0
        try:
            while not self._stop.is_set():
                customer = self._commit_random.choice(self.people)
                purchase_commit(
                    merchant=self.setup.merchant,
                    customer_id=customer.id,
                    amount_minor=5_00 + i,
                    order_id=f"chaos-{self.seed}-{i}",
                    outlet_id=self.setup.outlet.id,
                )
                i += 1
                self._committed += 1
                self._stop.wait(1.0 / self.rate)
        except BaseException as exc:  # the test reports it
            self._commit_errors.append(exc)
        finally:
            connections.close_all()

    def _services(self, action: str) -> None:
        subprocess.run(
            [".ci/services.sh", action, self.services_dir], check=True, capture_output=True
        )

    def _chaos_action(self) -> None:
        if not self._plan:  # every kind of fault in each round of three, in a random order
            self._plan = ["kill_worker", "kill_relay", "restart_redis"]
            self.random.shuffle(self._plan)
        action = self._plan.pop()
        self.actions[action] += 1
        if action == "kill_worker":
            self.stack.stop("worker", sig=signal.SIGKILL)
            time.sleep(0.3)
            self.stack.worker(threads=4)
        elif action == "kill_relay":
            self.stack.stop("relay", sig=signal.SIGKILL)
            time.sleep(0.3)
            self.stack.relay()
        else:
            self._services("redis-stop")
            time.sleep(1.5)
            self._services("redis-start")

    # ------------------------------------------------------------------ the run

    def run(self, *, seconds: float, drain_timeout: float) -> ChaosReport:
        self.stack.env["OUTBOX_RETRY_SCHEDULE"] = RETRY_SCHEDULE
        self.stack.worker(threads=4)
        self.stack.relay()
        # Start the clock once the processes deliver (the customers' created events went out).
        boot_by = time.monotonic() + 60
        while Delivery.objects.exclude(status=DeliveryStatus.DELIVERED).exists():
            assert time.monotonic() < boot_by, "the processes never delivered"
            time.sleep(0.2)
        self._t0 = time.monotonic()
        committer = threading.Thread(target=self._commit_loop, daemon=True)
        committer.start()
        deadline = self._t0 + seconds
        while time.monotonic() < deadline:
            time.sleep(self.random.uniform(1.5, 3.5))
            if time.monotonic() >= deadline:
                break
            self._chaos_action()
        self._stop.set()
        committer.join(timeout=30)
        assert not self._commit_errors, self._commit_errors
        # Everything up again and left alone: the outbox must settle by itself.
        if "relay" not in self.stack.procs:
            self.stack.relay()
        drain_by = time.monotonic() + drain_timeout
        while time.monotonic() < drain_by:
            open_rows = Delivery.objects.filter(
                status__in=[DeliveryStatus.PENDING, DeliveryStatus.LEASED]
            ).count()
            if not open_rows:
                break
            time.sleep(0.5)
        time.sleep(1.0)  # a redelivery still in flight lands before the receiver is read
        report = ledger_check(
            self.receiver, seconds=time.monotonic() - self._t0, actions=self.actions
        )
        report.failures_answered = self.failures_answered
        return report


def _dead_by_policy(row: dict[str, Any], schedule_len: int) -> bool:
    error = row["last_error"] or ""
    return row["attempts"] >= schedule_len or error.startswith(("Aborted", "endpoint disabled"))


def ledger_check(receiver: Receiver, *, seconds: float, actions: Counter[str]) -> ChaosReport:
    """Assert the outbox and the receivers agree; return the run's figures.

    * every committed event has its deliveries, and every delivery ended delivered, or dead by
      policy (its schedule used up); none is left pending or leased;
    * the receiver saw every delivered one, under the event's ``webhook-id``, with the delivery's
      ``sequence``, on every redelivery the same;
    * within a stream (endpoint + customer) first arrivals came in sequence order, and the
      stream's sequence numbers are 1..n without a gap.
    """
    schedule_len = len(RETRY_SCHEDULE.split(","))
    rows = list(
        Delivery.objects.values(
            "id",
            "status",
            "attempts",
            "last_error",
            "sequence",
            "customer_id",
            "endpoint__url",
            "event__message_id",
        ).order_by("id")
    )
    events = OutboxEvent.objects.count()
    assert events and rows, "nothing was committed"
    stuck = [r for r in rows if r["status"] in (DeliveryStatus.PENDING, DeliveryStatus.LEASED)]
    assert not stuck, f"{len(stuck)} deliveries never settled, e.g. {stuck[:3]}"
    bad_dead = [
        r
        for r in rows
        if r["status"] == DeliveryStatus.DEAD and not _dead_by_policy(r, schedule_len)
    ]
    assert not bad_dead, f"dead without the policy saying so: {bad_dead[:3]}"
    assert {r["status"] for r in rows} <= {DeliveryStatus.DELIVERED, DeliveryStatus.DEAD}
    # Each event reached both endpoints (one delivery each).
    per_event = Counter(r["event__message_id"] for r in rows)
    assert set(per_event.values()) == {2}, "an event is missing a delivery"

    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    streams: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        path = r["endpoint__url"].rsplit("/", 1)[1]
        by_key[(path, r["event__message_id"])] = r
        streams[(path, str(r["customer_id"]))].append(r)
    for key, stream in streams.items():
        numbers = sorted(r["sequence"] for r in stream)
        assert numbers == list(range(1, len(stream) + 1)), f"stream {key} numbered {numbers}"

    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    first_order: dict[tuple[str, str], list[int]] = defaultdict(list)
    requests = list(receiver.requests)
    for hit in requests:
        path = hit.path.rsplit("/", 1)[1]
        message_id = hit.headers["webhook-id"]
        row = by_key.get((path, message_id))
        assert row is not None, f"{path} got {message_id}, which the outbox never recorded"
        sequence = hit.json()["sequence"]
        if not seen[(path, message_id)]:
            first_order[(path, str(row["customer_id"]))].append(sequence)
        seen[(path, message_id)].add(sequence)
    for key, sequences in seen.items():
        assert sequences == {by_key[key]["sequence"]}, f"{key} sent with sequences {sequences}"
    for r in rows:
        path = r["endpoint__url"].rsplit("/", 1)[1]
        if r["status"] == DeliveryStatus.DELIVERED:
            assert (path, r["event__message_id"]) in seen, f"delivered but never received: {r}"
    for key, order in first_order.items():
        assert order == sorted(order), f"stream {key} arrived out of order: {order}"

    delivered = sum(r["status"] == DeliveryStatus.DELIVERED for r in rows)
    return ChaosReport(
        seconds=seconds,
        committed_events=events,
        deliveries=len(rows),
        delivered=delivered,
        dead_by_policy=len(rows) - delivered,
        requests=len(requests),
        duplicates=len(requests) - len(seen),
        actions=actions,
    )
