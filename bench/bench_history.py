"""History that stays bounded, and a drain that survives a held xmin (issue 11, items 6 and 7).

Phases (a real relay and real Dramatiq workers, events committed through the services, a fast
loopback receiver; every figure printed next to its goal):

1. held xmin: drain ``--backlog`` events over 200 customers (ordered endpoint) as the baseline,
   then open a REPEATABLE READ transaction on another connection (an analyst's psql session, a
   stuck migration: VACUUM can remove no row version younger than it) and drain the same backlog
   again and again for ``--hold`` seconds; worst and mean rate over the baseline (goal >= 0.7x);
2. retention: ``--rows`` delivered deliveries (each with its event and one attempt) past
   retention, written with ``generate_series``; then ``retention_purge`` is called until it has
   nothing left while a drain runs beside it. Prints rows/s, the time of each purge call
   (first, median, last: flat means the cost of a call does not grow with the table), the drain
   rate during the purge over the rate without it, and the tables' sizes before and after.

Chunked deletes or partitioning (issue 11 asks to choose by measurement): this benchmark is
that measurement; the README records the figures and the decision.

Needs DATABASE_URL (PostgreSQL) and REDIS_URL; ``make bench`` provides throwaway ones.
Usage: python bench/bench_history.py [--backlog 2000] [--hold 60] [--rows 5000000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from bench_delivery import Platform, drain_rate, merchant_with, verdict
from django.core.management import call_command
from django.db import connection, connections

from bench.receiver import FastReceiver

#: Rows written per INSERT ... SELECT generate_series while seeding the history.
SEED_BATCH = 250_000
TABLES = ("outbox_outboxevent", "outbox_delivery", "outbox_attempt")


def dsn() -> str:
    s = connection.settings_dict
    return f"postgresql://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def held_xmin(receiver: FastReceiver, backlog: int, hold: int) -> None:
    merchant, people = merchant_with(receiver.url)
    base = drain_rate(receiver, merchant, people, backlog)
    print(f"held xmin: baseline drain {base:.0f}/s ({backlog} events, 200 customers)")
    with psycopg.connect(dsn()) as holder:
        holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        holder.execute("SELECT count(*) FROM outbox_delivery").fetchone()  # takes the snapshot
        rates = []
        end = time.time() + hold
        while time.time() < end:
            rates.append(drain_rate(receiver, merchant, people, backlog))
            print(f"  with a transaction open {hold - max(0, end - time.time()):.0f} s: "
                  f"{rates[-1]:.0f}/s")  # fmt: skip
        holder.rollback()
    worst, mean = min(rates) / base, statistics.mean(rates) / base
    print(f"held xmin: worst {worst:.2f}x, mean {mean:.2f}x of the baseline over {len(rates)} "
          f"drains in {hold} s (goal >= 0.7x) {verdict(worst >= 0.7)}")  # fmt: skip


def sizes() -> str:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class "
            "WHERE relname = ANY(%s) ORDER BY relname",
            [list(TABLES)],
        )
        return ", ".join(f"{name} {size}" for name, size in cur.fetchall())


def seed(merchant: Any, endpoint_id: Any, rows: int) -> None:
    """``rows`` delivered deliveries, 60 days old, each with its event and one attempt."""
    t0 = time.time()
    with psycopg.connect(dsn(), autocommit=True) as conn:
        for start in range(0, rows, SEED_BATCH):
            n = min(SEED_BATCH, rows - start)
            conn.execute(
                """
                WITH ev AS (
                  INSERT INTO outbox_outboxevent
                    (message_id, merchant_id, event_type, customer_id, payload, request_id,
                     created_at)
                  SELECT 'msg_hist' || %(start)s + g, %(merchant)s, 'points.adjusted', NULL,
                         '{"type": "points.adjusted", "data": {"points": 1}}'::jsonb, '',
                         now() - interval '60 days' + g * interval '1 ms'
                  FROM generate_series(1, %(n)s) g
                  RETURNING id, created_at
                ), dl AS (
                  INSERT INTO outbox_delivery
                    (event_id, merchant_id, channel, endpoint_id, ordered, status, attempts,
                     next_attempt_at, last_error, last_status_code, created_at, updated_at,
                     delivered_at)
                  SELECT id, %(merchant)s, 'webhook', %(endpoint)s, false, 'delivered', 1,
                         created_at, '', 200, created_at, created_at, created_at
                  FROM ev
                  RETURNING id, created_at
                )
                INSERT INTO outbox_attempt
                  (delivery_id, started_at, duration_ms, status_code, error_class,
                   response_excerpt)
                SELECT id, created_at, 12, 200, '', '' FROM dl
                """,
                {"start": start, "n": n, "merchant": merchant.id, "endpoint": endpoint_id},
            )
            done = start + n
            print(f"\r  seeding {done:,}/{rows:,} ({done / (time.time() - t0):,.0f} rows/s)",
                  end="", flush=True)  # fmt: skip
        conn.execute("ANALYZE outbox_outboxevent, outbox_delivery, outbox_attempt")
    print()


def retention(receiver: FastReceiver, rows: int, backlog: int) -> None:
    from outbox.jobs import retention_purge
    from outbox.models import WebhookEndpoint

    merchant, people = merchant_with(receiver.url)
    endpoint_id = WebhookEndpoint.objects.filter(merchant=merchant).values_list("id", flat=True)[0]
    seed(merchant, endpoint_id, rows)
    print(f"retention: {rows:,} delivered rows past retention; sizes: {sizes()}")
    quiet = drain_rate(receiver, merchant, people, backlog)

    calls: list[float] = []
    purged = [0]

    def purge() -> None:
        while True:
            t = time.perf_counter()
            removed = retention_purge(older_than=timedelta(days=30))
            calls.append(time.perf_counter() - t)
            purged[0] += removed
            if not removed:
                break
        connections.close_all()

    t0 = time.time()
    runner = threading.Thread(target=purge)
    runner.start()
    during = []
    while runner.is_alive():
        during.append(drain_rate(receiver, merchant, people, backlog))
    runner.join()
    wall = time.time() - t0
    work = calls[:-1] or calls
    print(f"retention: {purged[0]:,} rows purged in {wall:.0f} s ({purged[0] / wall:,.0f} rows/s); "
          f"per call (20 s budget each): first {work[0]:.2f} s, median {statistics.median(work):.2f} s, "
          f"last {work[-1]:.2f} s (flat if last/first <= 1.5: {work[-1] / work[0]:.2f} "
          f"{verdict(work[-1] / work[0] <= 1.5)})")  # fmt: skip
    if during:
        print(f"retention: drain during the purge {min(during):.0f}-{max(during):.0f}/s over "
              f"{quiet:.0f}/s without it: worst {min(during) / quiet:.2f}x")  # fmt: skip
    with psycopg.connect(dsn(), autocommit=True) as conn:
        conn.execute("VACUUM outbox_outboxevent, outbox_delivery, outbox_attempt")
    print(f"retention: sizes after purge + plain VACUUM (space kept for reuse): {sizes()}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backlog", type=int, default=2000, help="events per drain")
    parser.add_argument("--hold", type=int, default=60, help="seconds the transaction stays open")
    parser.add_argument("--rows", type=int, default=5_000_000, help="history rows to purge")
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument("--worker-threads", type=int, default=8)
    parser.add_argument("--skip", choices=("xmin", "retention"), action="append", default=[])
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    receiver = FastReceiver().start()
    platform = Platform(args)
    try:
        time.sleep(3)
        if "xmin" not in args.skip:
            held_xmin(receiver, args.backlog, args.hold)
        if "retention" not in args.skip:
            retention(receiver, args.rows, args.backlog)
    finally:
        platform.stop()


if __name__ == "__main__":
    main()
