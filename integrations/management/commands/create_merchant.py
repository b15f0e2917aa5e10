"""``create_merchant``: a merchant ready to take register calls, printed as one JSON object."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from core.errors import ApplicationError
from integrations.services import api_key_issue
from loyalty.services import merchant_create
from outbox.services import webhook_endpoint_create


class Command(BaseCommand):
    help = (
        "Create a merchant with its loyalty program, an outlet, a register (device), a manager, "
        "an API key and optionally a webhook endpoint; print them as one JSON object. "
        "The API key and webhook secret are shown only here."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="Merchant's display name.")
        parser.add_argument("--webhook-url", help="HTTPS URL that receives signed webhooks.")
        parser.add_argument(
            "--telegram-chat-id", type=int, help="Merchant staff's Telegram chat for notices."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic():
                setup = merchant_create(name=options["name"])
                merchant = setup.merchant
                if options.get("telegram_chat_id") is not None:
                    merchant.telegram_chat_id = options["telegram_chat_id"]
                    merchant.save(update_fields=["telegram_chat_id"])
                issued = api_key_issue(merchant=merchant)
                endpoint_id = secret = None
                if options.get("webhook_url"):
                    endpoint, secret = webhook_endpoint_create(
                        merchant=merchant, url=options["webhook_url"]
                    )
                    endpoint_id = str(endpoint.id)
        except ApplicationError as exc:
            raise CommandError(exc.detail) from None
        self.stdout.write(
            json.dumps(
                {
                    "merchant_id": str(merchant.id),
                    "api_key": issued.plaintext,
                    "webhook_endpoint_id": endpoint_id,
                    "webhook_secret": secret,
                    "outlet_id": str(setup.outlet.id),
                    "device_id": str(setup.device.id),
                    "manager_id": str(setup.manager.id),
                    "telegram_start_payload": merchant.telegram_start_payload,
                }
            )
        )
