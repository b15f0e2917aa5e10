"""``issue_customer_code``: what the customer's bot would show at the register."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty.models import Customer
from loyalty.services import CUSTOMER_CODE_TTL, customer_code_issue


class Command(BaseCommand):
    help = (
        "Print a fresh one-time customer code for POST /api/integrations/v1/code "
        f"(single use, valid {int(CUSTOMER_CODE_TTL.total_seconds())} s)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customer-id", required=True, help="The customer's id (UUID).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            customer_id = uuid.UUID(options["customer_id"])
        except ValueError:
            raise CommandError(
                f"--customer-id must be a UUID (got {options['customer_id']!r})"
            ) from None
        customer = Customer.objects.filter(id=customer_id).first()
        if customer is None:
            raise CommandError(f"no customer with id {customer_id}")
        self.stdout.write(customer_code_issue(customer=customer))
