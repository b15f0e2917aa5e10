"""``outbox_pause``: hold deliveries (global, merchant, endpoint or channel) with a reason."""

from __future__ import annotations

import getpass
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from loyalty.models import Merchant
from outbox.models import WebhookEndpoint
from outbox.services import outbox_pause


def add_scope_arguments(parser: CommandParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--merchant", help="Merchant id (UUID).")
    scope.add_argument("--endpoint", help="Webhook endpoint id (UUID).")
    scope.add_argument("--channel", choices=["webhook", "telegram"], help="A whole channel.")


def scope_options(options: dict[str, Any]) -> dict[str, str | None]:
    """The scope flags checked before anything is written: ids are UUIDs of rows that exist.

    One plain ``CommandError`` line for a bad value (``outbox_replay`` does the same), never
    a traceback from the database layer.
    """
    scope: dict[str, str | None] = {"channel": options.get("channel")}
    for flag, name, model, label in (
        ("--merchant", "merchant", Merchant, "merchant"),
        ("--endpoint", "endpoint", WebhookEndpoint, "webhook endpoint"),
    ):
        raw = options.get(name)
        if raw is None:
            scope[f"{name}_id"] = None
            continue
        try:
            value = uuid.UUID(str(raw))
        except ValueError:
            raise CommandError(f"{flag} must be a UUID (got {raw!r})") from None
        if not model.objects.filter(id=value).exists():
            raise CommandError(f"no {label} with id {value}")
        scope[f"{name}_id"] = str(value)
    return scope


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
            pause = outbox_pause(reason=options["reason"], actor=actor(), **scope_options(options))
        except ApplicationError as exc:
            raise CommandError(exc.detail) from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        when = f"{pause.created_at:%Y-%m-%d %H:%M:%S}Z"
        self.stdout.write(f"paused {pause.scope} ({pause}) by {pause.created_by} at {when}")
