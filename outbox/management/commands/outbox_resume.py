"""``outbox_resume``: end a pause; held deliveries flow again, oldest first."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from outbox.management.commands.outbox_pause import (
    actor,
    add_scope_arguments,
    scope_options,
)
from outbox.services import outbox_resume


class Command(BaseCommand):
    help = (
        "Resume outbox delivery for the same scope a pause was set on (no scope: the global pause)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_scope_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            ended = outbox_resume(actor=actor(), **scope_options(options))
        except ApplicationError as exc:
            raise CommandError(exc.detail) from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            "resumed" if ended else "nothing to resume: no active pause in that scope"
        )
