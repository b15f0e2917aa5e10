"""``create_portal_user``: give a merchant's employee portal access."""

from __future__ import annotations

import getpass
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from loyalty.models import Merchant
from portal.models import StaffRole
from portal.services import staff_user_create


class Command(BaseCommand):
    help = (
        "Create a portal sign-in for a merchant's staff. The password is read from "
        "PORTAL_PASSWORD or asked for (never taken on the command line)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", required=True, help="Merchant id (UUID).")
        parser.add_argument("--email", required=True)
        parser.add_argument(
            "--role",
            choices=StaffRole.values,
            default=StaffRole.OWNER,
            help="owner (everything, also staff and API keys), manager (changes data) or "
            "viewer (reads only); default owner.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        merchant = (
            Merchant.objects.filter(id=options["merchant"]).first()
            if _is_uuid(options["merchant"])
            else None
        )
        if merchant is None:
            raise CommandError(f"no merchant {options['merchant']}")
        password = os.environ.get("PORTAL_PASSWORD") or getpass.getpass("Password: ")
        try:
            user = staff_user_create(
                merchant=merchant, email=options["email"], password=password, role=options["role"]
            )
        except ApplicationError as exc:
            raise CommandError(exc.detail) from None
        self.stdout.write(f"portal user {user.email} ({user.role}) created for {merchant.name}")


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
