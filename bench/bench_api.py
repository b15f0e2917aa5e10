"""Integration API benchmark: POST purchases (commit) under gunicorn at a fixed concurrency.

Two configurations, measured alternately (several rounds; the best round of each is reported,
so that a noisy neighbour hurts neither more):

* shipped: the merchant has a webhook endpoint and its customers are linked to Telegram, so each
  commit writes the outbox event plus two delivery rows in its transaction;
* outbox off: a merchant without webhook endpoints or Telegram links, so ``outbox_event_record``
  writes only the event row (there is no switch to skip it: the event row is part of the commit
  contract). The difference is the cost of the deliveries on the hot path.

Each request is a full register commit: API key auth, per-key rate limit in Redis, strict input
validation, Idempotency-Key claim, the purchase (customer row lock, ledger, lots, outbox) and the
stored response, in one transaction. Customers are drawn round-robin from a pool, so row locks
rarely collide, as in real traffic. No relay runs: outbox rows are only written.

Needs DATABASE_URL (PostgreSQL) and REDIS_URL; `make bench` provides throwaway ones.
Usage: python bench/bench_api.py [--concurrency 16] [--seconds 8] [--rounds 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("OUTBOX_ALLOW_PRIVATE_TARGETS", "1")
# A throwaway key for a throwaway database, so that `--help` and a bare run work as printed.
os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789abcdef0123456789")
os.environ.setdefault("METRICS_PUBLIC", "1")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402

#: Goals from issue 4.
GOAL_RPS = 300
GOAL_P95_MS = 50.0
GOAL_OVERHEAD = 0.15


@dataclass
class Target:
    """A merchant to commit purchases for."""

    name: str
    api_key: str
    outlet_id: str
    customer_ids: list[str]


@dataclass
class RunResult:
    name: str
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[int, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(int(len(ordered) * q), len(ordered) - 1)] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_target(name: str, *, customers: int, with_outbox: bool) -> Target:
    from integrations.services import api_key_issue
    from loyalty.models import Customer, TelegramStatus
    from loyalty.services import merchant_create
    from outbox.models import WebhookEndpoint
    from outbox.services import webhook_endpoint_create

    setup = merchant_create(name=f"bench-{name}-{uuid.uuid4().hex[:6]}")
    merchant = setup.merchant
    rows = [
        Customer(
            merchant=merchant,
            phone=f"+7999{i:07d}",
            name="bench",
            # Linked customers get a Telegram delivery per event, as in production.
            telegram_chat_id=10**9 + i if with_outbox else None,
            telegram_status=TelegramStatus.LINKED if with_outbox else TelegramStatus.NONE,
        )
        for i in range(customers)
    ]
    Customer.objects.bulk_create(rows)
    if with_outbox:
        # Never called during the run (no relay); only its delivery rows are written.
        webhook_endpoint_create(merchant=merchant, url="http://127.0.0.1:9/hook")
    else:
        WebhookEndpoint.objects.filter(merchant=merchant).delete()
    ids = [str(c) for c in Customer.objects.filter(merchant=merchant).values_list("id", flat=True)]
    return Target(
        name=name,
        api_key=api_key_issue(merchant=merchant).plaintext,
        outlet_id=str(setup.outlet.id),
        customer_ids=ids,
    )


def start_gunicorn(port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DEBUG": "0",
        "LOG_LEVEL": "warning",
        # One key per run: the per-key limit (default 50/s) must not be what is measured.
        "API_THROTTLE_RATE": "1000000/s",
        "PROMETHEUS_MULTIPROC_DIR": str(log.parent / "prometheus"),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "-c",
            "config/gunicorn.py",
            "-w",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/live", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"gunicorn did not answer within 30 s; see {log}")


def run_load(
    base: str, target: Target, *, concurrency: int, seconds: float, warmup: float
) -> RunResult:
    """``concurrency`` threads, each a keep-alive client committing purchases back to back."""
    result = RunResult(name=target.name, seconds=seconds)
    lock = threading.Lock()
    customers = itertools.cycle(target.customer_ids)
    start = time.monotonic()
    measure_from = start + warmup
    stop_at = measure_from + seconds
    headers = {"Authorization": f"Bearer {target.api_key}"}

    def worker() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            while True:
                now = time.monotonic()
                if now >= stop_at:
                    return
                with lock:
                    customer_id = next(customers)
                body = {
                    "customer_id": customer_id,
                    "amount_minor": 123_45,
                    "order_id": uuid.uuid4().hex,
                    "outlet_id": target.outlet_id,
                }
                sent = time.perf_counter()
                response = client.post(
                    "/api/integrations/v1/purchases",
                    json=body,
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
                elapsed_ms = (time.perf_counter() - sent) * 1000
                if now < measure_from:
                    continue
                with lock:
                    if response.status_code == 201:
                        result.latencies_ms.append(elapsed_ms)
                    else:
                        result.errors[response.status_code] = (
                            result.errors.get(response.status_code, 0) + 1
                        )

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


def describe(result: RunResult) -> str:
    errors = f", errors {result.errors}" if result.errors else ""
    return (
        f"{result.name:<11} {result.rps:7.1f} commits/s  p50 {result.pct(0.50):6.1f} ms  "
        f"p95 {result.pct(0.95):6.1f} ms  p99 {result.pct(0.99):6.1f} ms  "
        f"(n={len(result.latencies_ms)}{errors})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=16, help="client threads (default 16)")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per round")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds per round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each configuration")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--customers", type=int, default=500)
    args = parser.parse_args()

    if connections["default"].vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        raise SystemExit(
            "bench_api needs DATABASE_URL (PostgreSQL) and REDIS_URL; run `make bench`"
        )
    call_command("migrate", "--noinput", verbosity=0)
    targets = {
        "shipped": make_target("shipped", customers=args.customers, with_outbox=True),
        "outbox off": make_target("outbox off", customers=args.customers, with_outbox=False),
    }
    connections.close_all()

    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="bench-api-")) / "gunicorn.log"
    server = start_gunicorn(port, args.workers, log)
    base = f"http://127.0.0.1:{port}"
    print(
        f"bench_api: POST purchases, gunicorn -w {args.workers} (threads from config/gunicorn.py), "
        f"{args.concurrency} client threads, {args.rounds} x {args.seconds:.0f} s per configuration"
    )
    best: dict[str, RunResult] = {}
    try:
        for round_no in range(1, args.rounds + 1):
            for name, target in targets.items():
                result = run_load(
                    base,
                    target,
                    concurrency=args.concurrency,
                    seconds=args.seconds,
                    warmup=args.warmup,
                )
                print(f"  round {round_no}: {describe(result)}")
                if name not in best or result.rps > best[name].rps:
                    best[name] = result
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    shipped, off = best["shipped"], best["outbox off"]
    overhead = 1 - shipped.rps / off.rps if off.rps else float("nan")
    print("best rounds:")
    print("  " + describe(shipped))
    print("  " + describe(off))
    p95_delta = shipped.pct(0.95) - off.pct(0.95)
    print(f"  outbox overhead on throughput: {overhead * 100:.1f} % (p95 {p95_delta:+.1f} ms)")
    verdicts = [
        ("commits/s >= 300", shipped.rps >= GOAL_RPS),
        ("p95 <= 50 ms", shipped.pct(0.95) <= GOAL_P95_MS),
        ("outbox overhead <= 15 %", overhead <= GOAL_OVERHEAD),
    ]
    print("goals: " + ", ".join(f"{label}: {'met' if ok else 'MISSED'}" for label, ok in verdicts))
    if shipped.errors or off.errors:
        raise SystemExit(f"non-201 answers during the run; see {log}")
    median = statistics.median(shipped.latencies_ms)
    print(f"  median latency shipped {median:.1f} ms; server log {log}")


if __name__ == "__main__":
    main()
