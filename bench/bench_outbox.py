"""Outbox delivery benchmark: events committed through the services, delivered by a real relay
and real Dramatiq workers to a fast local receiver; all on this machine.

Phase 1 (throughput): N events committed while delivery is paused, then resumed; deliveries/s
from resume to the last arrival. Phase 2 (latency): events committed at a steady rate; the time
from each event's commit to its arrival at the receiver, p50/p99.

Needs DATABASE_URL (PostgreSQL) and REDIS_URL; `make bench` provides throwaway ones.
Usage: python bench/bench_outbox.py [--events 5000] [--rate 200] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
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

from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402

from bench.receiver import FastReceiver  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument("--worker-threads", type=int, default=8)
    args = parser.parse_args()

    from loyalty.models import Customer
    from loyalty.services import merchant_create, points_adjust
    from outbox.models import Delivery, OutboxEvent
    from outbox.services import outbox_pause, outbox_resume, webhook_endpoint_create

    call_command("migrate", "--noinput", verbosity=0)
    Delivery.objects.all().delete()
    OutboxEvent.objects.all().delete()
    receiver = FastReceiver().start()
    setup = merchant_create(name=f"bench-{time.time()}")
    merchant = setup.merchant
    webhook_endpoint_create(merchant=merchant, url=receiver.url)
    customers = [
        Customer.objects.create(merchant=merchant, phone=f"+7999{i:07d}", name="b")
        for i in range(args.customers)
    ]

    env = {**os.environ, "WORKERS_ENABLED": "1", "LOG_LEVEL": "warning"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "rundramatiq",
                "--processes",
                str(args.worker_processes),
                "--threads",
                str(args.worker_threads),
                "--skip-logging",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [sys.executable, "manage.py", "outbox_relay"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
        ),
    ]
    try:
        time.sleep(4)  # worker boot
        # Phase 1: throughput.
        outbox_pause(reason="bench", actor="bench")
        started = time.perf_counter()

        def commit_range(part: int, parts: int) -> None:
            for i in range(part, args.events, parts):
                points_adjust(
                    merchant=merchant,
                    customer_id=customers[i % len(customers)].id,
                    points=1,
                    reason="bench",
                )
            connections.close_all()

        threads = [threading.Thread(target=commit_range, args=(p, 4)) for p in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        commit_seconds = time.perf_counter() - started
        receiver.arrivals.clear()
        t0 = time.time()
        outbox_resume(actor="bench")
        while len(receiver.arrivals) < args.events:
            time.sleep(0.05)
            if time.time() - t0 > 300:
                raise SystemExit(
                    f"only {len(receiver.arrivals)} of {args.events} delivered in 300 s"
                )
        drain = receiver.arrivals[-1][1] - t0
        print(
            f"commit: {args.events} events through points_adjust in {commit_seconds:.1f} s "
            f"({args.events / commit_seconds:.0f} commits/s, 4 threads)"
        )
        print(
            f"throughput: {args.events} deliveries in {drain:.2f} s = {args.events / drain:.0f} deliveries/s "
            f"({args.worker_processes} worker processes x {args.worker_threads} threads, 1 relay)"
        )

        # Phase 2: commit-to-delivered latency at a steady rate.
        receiver.arrivals.clear()
        total = args.rate * args.seconds
        committers = 4
        begin = time.perf_counter()

        def paced(part: int) -> None:
            # Each committer owns every 4th slot of one global schedule of `rate` events/s.
            for i in range(part, total, committers):
                delay = begin + i / args.rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                points_adjust(
                    merchant=merchant,
                    customer_id=customers[i % len(customers)].id,
                    points=1,
                    reason="lat",
                )
            connections.close_all()

        threads = [threading.Thread(target=paced, args=(p,)) for p in range(committers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        achieved = total / (time.perf_counter() - begin)
        deadline = time.time() + 60
        while len(receiver.arrivals) < total and time.time() < deadline:
            time.sleep(0.05)
        arrived = dict(receiver.arrivals)
        created = dict(
            Delivery.objects.filter(event__message_id__in=list(arrived)).values_list(
                "event__message_id", "event__created_at"
            )
        )
        latencies = [(arrived[m] - created[m].timestamp()) * 1000 for m in arrived if m in created]
        print(
            f"latency at {achieved:.0f} events/s for {args.seconds} s ({len(latencies)}/{total} delivered): "
            f"p50 {statistics.median(latencies):.0f} ms, p99 {percentile(latencies, 0.99):.0f} ms, "
            f"max {max(latencies):.0f} ms"
        )
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
