"""``points_correct``: a manual balance fix (runbook 003 "manual completion"), through
:func:`loyalty.services.points_adjust`: a ledger ``adjustment`` entry with its reason, the
cached balance under the customer's lock, and a ``points.adjusted`` event to the merchant's
webhook and the customer's chat, all in one transaction."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from loyalty.models import Customer
from loyalty.services import points_adjust


class Command(BaseCommand):
    help = (
        "Correct a customer's points by hand: --points 100 adds, --points -50 removes (never "
        "below zero). Writes an 'adjustment' ledger entry with --reason (who asked and why; "
        "shown in the ledger and sent as points.adjusted). Prints the entry as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customer-id", required=True, help="The customer's id (UUID).")
        parser.add_argument(
            "--points", required=True, type=int, help="Points to add (positive) or remove."
        )
        parser.add_argument("--reason", required=True, help="Why (kept in the ledger).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            customer_id = uuid.UUID(options["customer_id"])
        except ValueError:
            raise CommandError(
                f"--customer-id must be a UUID (got {options['customer_id']!r})"
            ) from None
        customer = Customer.objects.select_related("merchant").filter(id=customer_id).first()
        if customer is None:
            raise CommandError(f"no customer with id {customer_id}")
        try:
            entry = points_adjust(
                merchant=customer.merchant,
                customer_id=customer.id,
                points=options["points"],
                reason=options["reason"],
            )
        except ApplicationError as exc:
            raise CommandError(" ".join(str(exc).split())) from None
        customer.refresh_from_db(fields=["balance_points"])
        self.stdout.write(
            json.dumps(
                {
                    "entry_id": str(entry.id),
                    "customer_id": str(customer.id),
                    "points": entry.points,
                    "reason": entry.reason,
                    "balance_points": customer.balance_points,
                }
            )
        )
