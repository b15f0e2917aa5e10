"""``outbox_relay``: move due outbox rows to the broker; host the periodic jobs."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.jobs import periodic_jobs
from core.schema import schema_gate_or_exit
from outbox.actors import enqueue
from outbox.relay import Relay, relay_database_use


class Command(BaseCommand):
    help = (
        "Run the outbox relay: claim due deliveries (SKIP LOCKED, leased), hand them to the "
        "Dramatiq workers, and run periodic jobs (lease recovery, gauges, points expiry, "
        "retention). Any number of relays may run at once. With RELAY_DATABASE_URL set it "
        "uses that direct PostgreSQL connection instead of DATABASE_URL (PgBouncer)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, help="Rows claimed per transaction.")
        parser.add_argument("--lease-seconds", type=int, help="How long a claim is held.")
        parser.add_argument("--once", action="store_true", help="Claim what is due once and exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        # Before anything touches the database: the relay talks to PostgreSQL directly when the
        # others go through PgBouncer (RELAY_DATABASE_URL).
        if relay_database_use():
            self.stderr.write("outbox_relay: using RELAY_DATABASE_URL (direct connection)")
        schema_gate_or_exit("outbox_relay")
        relay = Relay(
            enqueue=enqueue,
            batch=options.get("batch"),
            lease_seconds=options.get("lease_seconds"),
            jobs=periodic_jobs(),
        )
        if options["once"]:
            handed = relay.run_once()
            self.stdout.write(f"handed {handed} deliveries to the workers")
            return
        signal.signal(signal.SIGTERM, lambda *_: relay.stop())
        signal.signal(signal.SIGINT, lambda *_: relay.stop())
        relay.run_forever()
