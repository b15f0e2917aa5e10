"""Telegram notification benchmark: 2,000 notifications to 500 linked chats through the outbox,
a real relay and real Dramatiq worker processes, to the fake Bot API with Telegram's limits on
(30 messages/s per bot, 1 message/s per chat, real 429s).

All events are committed through the services first (``customer_telegram_link`` then
``points_adjust`` for each customer: 4 messages per chat), then the relay and the workers start.
Measured at the fake server: the sustained send rate (goal: at least 28.5 messages/s, 95 % of the
Bot API's limit) with zero 429 answers, the highest rates it saw per bot and per chat, and the
time to drain everything. Exits 1 when a message is lost or duplicated, arrives out of order, or
the fake answered 429; the rate goal is reported, not enforced (it depends on the machine).

Runs in a database of its own, created next to DATABASE_URL's (PostgreSQL) and dropped at the
end; needs REDIS_URL. ``make bench`` provides throwaway servers.
Usage: python bench/bench_telegram.py [--chats 500] [--per-chat 4] [--worker-processes 2]
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GOAL_PER_SECOND = 28.5


def bench_database(url: str) -> tuple[str, str]:
    """Create an empty database on the server of ``url``; returns its URL and its name."""
    parts = urlsplit(url)
    name = f"bench_telegram_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), name


def drop_database(url: str, name: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chats", type=int, default=500)
    parser.add_argument("--per-chat", type=int, default=4, help="messages per chat (>= 1)")
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument("--worker-threads", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")) or not os.environ.get("REDIS_URL"):
        print(
            "bench_telegram: needs DATABASE_URL (PostgreSQL) and REDIS_URL (make bench sets them)"
        )
        return 2
    db_url, db_name = bench_database(base_url)
    try:
        return run(args, db_url)
    finally:
        drop_database(base_url, db_name)


def run(args: argparse.Namespace, db_url: str) -> int:
    from tests.fakes.telegram_bot_api import FakeBotApi

    fake = FakeBotApi().start()
    # A bot of its own per run, so that the shared limiter's keys start empty.
    token = f"{secrets.randbelow(10**9) + 10**9}:bench"
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": db_url,
            "TELEGRAM_NOTIFY_BOT_TOKEN": token,
            "TELEGRAM_API_BASE_URL": fake.url,
            "OUTBOX_ALLOW_PRIVATE_TARGETS": "1",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from loyalty.services import customer_telegram_link, merchant_create, points_adjust
    from outbox.models import Channel, Delivery, DeliveryStatus

    call_command("migrate", "--noinput", verbosity=0)
    merchant = merchant_create(name="bench-telegram").merchant
    chats = [7_000_000 + i for i in range(args.chats)]
    total = args.chats * args.per_chat

    def seed(part: int, parts: int) -> None:
        for i in range(part, len(chats), parts):
            customer = customer_telegram_link(
                merchant=merchant, phone=f"+7916{i:07d}", chat_id=chats[i], language="en"
            )
            for n in range(1, args.per_chat):
                points_adjust(merchant=merchant, customer_id=customer.id, points=n, reason="bench")
        connections.close_all()

    started = time.perf_counter()
    seeders = [threading.Thread(target=seed, args=(p, 4)) for p in range(4)]
    for t in seeders:
        t.start()
    for t in seeders:
        t.join()
    queued = Delivery.objects.filter(channel=Channel.TELEGRAM).count()
    print(
        f"seeded: {queued} telegram deliveries for {args.chats} linked chats in "
        f"{time.perf_counter() - started:.1f} s"
    )
    if queued != total:
        print(f"FAIL: expected {total} deliveries")
        return 1

    env = {**os.environ, "WORKERS_ENABLED": "1", "LOG_LEVEL": "warning"}
    begin = time.monotonic()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "rundramatiq",
                "--processes",
                "1",
                "--threads",
                str(args.worker_threads),
                "--skip-logging",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
        )
        for _ in range(args.worker_processes)
    ]
    procs.append(
        subprocess.Popen(
            [sys.executable, "manage.py", "outbox_relay"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
        )
    )
    try:
        try:
            got = fake.wait_for_messages(total, timeout=args.timeout)
        except TimeoutError as exc:
            print(f"FAIL: {exc}")
            return 1
        done = Delivery.objects.filter(channel=Channel.TELEGRAM, status=DeliveryStatus.DELIVERED)
        settle = time.monotonic() + 30
        while done.count() < total and time.monotonic() < settle:
            time.sleep(0.2)  # the last batches are being recorded
        delivered = done.count()
        time.sleep(1.0)  # anything sent twice would have arrived by now
        got = fake.messages()
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)
        fake.stop()

    stats = fake.stats()
    stamps = [m.monotonic for m in got]
    first, last = stamps[0], stamps[-1]
    sustained = (len(got) - 1) / (last - first)
    # The middle 90 %: the rate once the pipeline is full, without start-up and tail.
    lo, hi = stamps[len(stamps) // 20], stamps[len(stamps) * 19 // 20]
    steady = (len(stamps) * 19 // 20 - len(stamps) // 20) / (hi - lo)
    by_chat: dict[int, list[str]] = {}
    for m in got:
        by_chat.setdefault(m.chat_id, []).append(m.text)
    in_order = all(
        texts[0].startswith("Your loyalty card is linked")
        and all(t.startswith(f"You got {n} point") for n, t in enumerate(texts[1:], start=1))
        for texts in by_chat.values()
    )
    print(
        f"sent: {len(got)} messages to {len(by_chat)} chats "
        f"({args.worker_processes} worker processes x {args.worker_threads} threads, 1 relay)"
    )
    print(
        f"sustained rate: {sustained:.2f} messages/s first to last message "
        f"({steady:.2f}/s over the middle 90 %); goal >= {GOAL_PER_SECOND}: "
        f"{'met' if sustained >= GOAL_PER_SECOND else 'NOT met'}"
    )
    print(
        f"drain: {last - begin:.1f} s from starting the processes to the last message "
        f"(first message after {first - begin:.1f} s, sending took {last - first:.1f} s)"
    )
    print(
        f"fake Bot API: {stats['count_429']} x 429, max {stats['max_rate_global']} messages in "
        f"any second (limit 30), max {stats['max_rate_per_chat']} per chat in any second "
        f"(limit 1); {delivered}/{total} deliveries marked delivered"
    )
    failures = []
    if stats["count_429"]:
        failures.append(f"{stats['count_429']} answers were 429")
    if len(got) != total or len(by_chat) != args.chats:
        failures.append(f"{len(got)} messages for {total} notifications")
    if not in_order:
        failures.append("a chat got its messages out of order")
    if stats["max_rate_global"] > 30 or stats["max_rate_per_chat"] > 1:
        failures.append("a rate limit was exceeded")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
