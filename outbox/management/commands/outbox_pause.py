"""``outbox_pause``: hold deliveries (global, merchant, endpoint or channel) with a reason."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from outbox.services import outbox_pause


def add_scope_arguments(parser: CommandParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--merchant", help="Merchant id (UUID).")
    scope.add_argument("--endpoint", help="Webhook endpoint id (UUID).")
    scope.add_argument("--channel", choices=["webhook", "telegram"], help="A whole channel.")


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


class Command(BaseCommand):
    help = (
        "Pause outbox delivery: everything (no scope), one merchant, one endpoint or one "
        "channel. Paused work stays pending and flows, oldest first, on outbox_resume."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_scope_arguments(parser)
        parser.add_argument("--reason", required=True, help="Why; shown in the admin.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            pause = outbox_pause(
                reason=options["reason"],
                actor=actor(),
                merchant_id=options.get("merchant"),
                endpoint_id=options.get("endpoint"),
                channel=options.get("channel"),
            )
        except ApplicationError as exc:
            raise CommandError(exc.detail) from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        when = f"{pause.created_at:%Y-%m-%d %H:%M:%S}Z"
        self.stdout.write(f"paused {pause.scope} ({pause}) by {pause.created_by} at {when}")
