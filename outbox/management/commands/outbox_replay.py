"""``outbox_replay``: re-queue finished deliveries (dead by default) with a progress bar."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime
from tqdm import tqdm

from loyalty.events import EventType
from outbox.models import DeliveryStatus
from outbox.selectors import deliveries_filter
from outbox.services import outbox_replay

#: Deliveries re-queued per transaction.
CHUNK = 500


def _when(value: str | None, flag: str) -> datetime | None:
    if value is None:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise CommandError(f"{flag} must be an ISO 8601 date-time, e.g. 2026-11-22T10:00:00Z")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


class Command(BaseCommand):
    help = (
        "Re-queue matching deliveries with a fresh retry schedule. The webhook-id stays the same, "
        "so receivers can deduplicate. Default: dead deliveries."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--status",
            default="dead",
            choices=["dead", "cancelled", "delivered"],
            help="Which finished deliveries to replay.",
        )
        parser.add_argument("--merchant", help="Merchant id (UUID).")
        parser.add_argument("--event-type", choices=EventType.values)
        parser.add_argument("--since", help="Created at or after (ISO 8601).")
        parser.add_argument("--until", help="Created before (ISO 8601).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count what would be replayed."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            qs = deliveries_filter(
                status=DeliveryStatus(options["status"]),
                merchant_id=options.get("merchant"),
                event_type=options.get("event_type"),
                since=_when(options.get("since"), "--since"),
                until=_when(options.get("until"), "--until"),
            )
            total = qs.count()
        except (ValueError, ValidationError) as exc:
            raise CommandError(f"bad filter: {exc}") from None
        if options["dry_run"]:
            self.stdout.write(f"{total} deliveries would be replayed")
            return
        replayed = 0
        ids = list(qs.values_list("id", flat=True))
        with tqdm(total=total, unit="delivery", desc="replaying", file=self.stderr._out) as bar:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                replayed += outbox_replay(deliveries=qs.model.objects.filter(id__in=chunk))
                bar.update(len(chunk))
        self.stdout.write(f"replayed {replayed} deliveries")
