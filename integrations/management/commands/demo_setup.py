"""``demo_setup``: the demo merchant for ``make run`` (idempotent)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from integrations.models import ApiKey
from integrations.services import api_key_issue
from loyalty.models import Customer, Merchant
from loyalty.services import customer_register, merchant_create, points_adjust
from outbox.models import WebhookEndpoint
from outbox.services import webhook_endpoint_create

DEMO_NAME = "Demo cafe"
DEMO_PHONE = "+79160000001"


class Command(BaseCommand):
    help = (
        "Create the demo merchant once (with a customer holding 500 points and a webhook endpoint "
        "pointing at the demo receiver /demo/webhooks) and print a fresh API key, its ids and a "
        "ready curl line. Each run revokes the previous demo key: keys are stored hashed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=settings.PORT)

    def handle(self, *args: Any, **options: Any) -> None:
        base = f"http://127.0.0.1:{options['port']}"
        with transaction.atomic():
            merchant = Merchant.objects.filter(name=DEMO_NAME).order_by("created_at").first()
            if merchant is None:
                setup = merchant_create(name=DEMO_NAME)
                merchant = setup.merchant
                customer = customer_register(
                    merchant=merchant, phone=DEMO_PHONE, name="Demo customer"
                )
                points_adjust(
                    merchant=merchant, customer_id=customer.id, points=500, reason="welcome"
                )
            receiver = f"{base}/demo/webhooks"
            if not WebhookEndpoint.objects.filter(merchant=merchant, url=receiver).exists():
                webhook_endpoint_create(merchant=merchant, url=receiver)
            ApiKey.objects.filter(merchant=merchant, name="demo", revoked_at=None).update(
                revoked_at=timezone.now()
            )
            issued = api_key_issue(merchant=merchant, name="demo")
        customer = Customer.objects.get(merchant=merchant, phone=DEMO_PHONE)
        outlet = merchant.outlets.order_by("name").first()
        device = merchant.devices.order_by("name").first()
        manager = merchant.managers.order_by("name").first()
        info = {
            "merchant_id": str(merchant.id),
            "api_key": issued.plaintext,
            "customer_id": str(customer.id),
            "outlet_id": str(outlet.id) if outlet else None,
            "device_id": str(device.id) if device else None,
            "manager_id": str(manager.id) if manager else None,
            "telegram_start_payload": merchant.telegram_start_payload,
        }
        body = json.dumps(
            {
                "customer_id": str(customer.id),
                "amount_minor": 25000,
                "redeem_points": 0,
                "order_id": "demo-<unique>",
                "outlet_id": info["outlet_id"],
            }
        )
        # A fresh order id on every run of the printed line: the shell fills it in.
        shell_body = body.replace("demo-<unique>", "demo-'$(date +%s%N)'")
        self.stdout.write("Demo merchant ready:\n" + json.dumps(info, indent=2))
        self.stdout.write(
            "\nTry it:\n"
            f"  curl -s {base}/health\n"
            f"  curl -s -H 'Authorization: Bearer {issued.plaintext}' "
            f"{base}/api/integrations/v1/customers/{customer.id}\n"
            f"  curl -s -X POST -H 'Authorization: Bearer {issued.plaintext}' "
            f"-H 'Content-Type: application/json' -H \"Idempotency-Key: $(date +%s%N)\" "
            f"-d '{shell_body}' "
            f"{base}/api/integrations/v1/purchases\n"
            f"  curl -s {base}/demo/webhooks   # webhooks the demo receiver verified\n"
            f"Admin: {base}/admin/ (create a user: .venv/bin/python manage.py createsuperuser)\n"
        )
