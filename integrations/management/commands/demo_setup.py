"""``demo_setup``: the demo merchant for ``make run`` (idempotent), and the register walk.

The API key is stored hashed, so the plaintext can only be shown again if it was kept: the
command saves it with the demo's ids in a git-ignored shell file (``.demo.env`` in the checkout,
``--save`` to choose another) and reuses it on the next run as long as it still authenticates
for the demo merchant. ``--rotate-key`` revokes it and issues a new one. The same file is what
the README's register walk ``source``s.
"""

from __future__ import annotations

import json
import secrets
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from integrations.models import ApiKey
from integrations.services import api_key_authenticate, api_key_cache, api_key_issue
from loyalty.models import Customer, Merchant
from loyalty.services import customer_register, merchant_create, points_adjust
from outbox.models import WebhookEndpoint
from outbox.services import webhook_endpoint_create

DEMO_NAME = "Demo cafe"
DEMO_PHONE = "+79160000001"
DEMO_KEY_NAME = "demo"
#: Where the demo's key and ids are kept for the next run and for ``source`` (git-ignored).
DEMO_STATE_FILE = Path(settings.BASE_DIR) / ".demo.env"


def state_read(path: Path) -> dict[str, str]:
    """The ``NAME=value`` lines of the saved state (shell syntax, values shell-quoted)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text().splitlines():
        name, sep, value = line.removeprefix("export ").partition("=")
        if sep and name.isidentifier():
            parsed = shlex.split(value)
            values[name] = parsed[0] if parsed else ""
    return values


def state_write(path: Path, values: dict[str, str]) -> None:
    lines = [
        "# Written by `manage.py demo_setup` (make run): the demo merchant's key and ids.",
        "# Local development only, git-ignored. `source` it to run the README's register walk.",
        *(f"export {name}={shlex.quote(value)}" for name, value in values.items()),
    ]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def walk_lines(*, base: str, key: str, customer_id: str, outlet_id: str, order: str) -> list[str]:
    """The register flow as copy-paste shell lines with the demo's real values."""
    auth = f"-H 'Authorization: Bearer {key}'"
    api = f"{base}/api/integrations/v1"
    jsn = "-H 'Content-Type: application/json'"
    calc = json.dumps(
        {
            "customer_id": customer_id,
            "amount_minor": 25000,
            "redeem_points": 50,
            "outlet_id": outlet_id,
        }
    )
    buy = json.dumps(
        {
            "customer_id": customer_id,
            "amount_minor": 25000,
            "redeem_points": 50,
            "order_id": order,
            "outlet_id": outlet_id,
        }
    )
    purchase = (
        f"curl -s -X POST {auth} {jsn} -H 'Idempotency-Key: purchase-{order}' -d '{buy}' "
        f"{api}/purchases"
    )
    return [
        "# 1. a one-time code, as the customer's Telegram bot would show it",
        f"CODE=$(.venv/bin/python manage.py issue_customer_code --customer-id {customer_id})",
        "# 2. the customer behind the code (consumes it)",
        f'curl -s -X POST {auth} {jsn} -d "{{\\"code\\": \\"$CODE\\"}}" {api}/code',
        "# 3. or find the customer by phone",
        f"curl -s {auth} '{api}/customers?phone={DEMO_PHONE.replace('+', '%2B')}'",
        "# 4. quote: points earned, the most that may be redeemed; writes nothing",
        f"curl -s -X POST {auth} {jsn} -d '{calc}' {api}/calculate",
        "# 5. commit the purchase (fixed Idempotency-Key)",
        purchase,
        "# 6. the same again: the first answer, replayed (see Idempotent-Replayed: true)",
        purchase.replace("curl -s ", "curl -s -i ", 1),
        "# 7. refund it in full",
        f"curl -s -X POST {auth} {jsn} -H 'Idempotency-Key: refund-{order}' "
        f"-d '{json.dumps({'order_id': order})}' {api}/refunds",
        "# 8. the webhooks the demo receiver got and verified (purchase.committed, ...refunded)",
        f"curl -s {base}/demo/webhooks",
    ]


class Command(BaseCommand):
    help = (
        "Create the demo merchant once (with a customer holding 500 points and a webhook endpoint "
        "pointing at the demo receiver /demo/webhooks) and print its API key, ids and the register "
        "walk as copy-paste lines. The key is kept (with the ids, in --save) and reused on the "
        "next run; --rotate-key revokes it and issues a new one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument(
            "--rotate-key",
            action="store_true",
            help="Revoke the demo API key and issue a new one.",
        )
        parser.add_argument(
            "--save",
            type=Path,
            default=DEMO_STATE_FILE,
            help=f"Shell file keeping the key and ids (default {DEMO_STATE_FILE}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        base = f"http://127.0.0.1:{options['port']}"
        state_path: Path = options["save"]
        saved = state_read(state_path)
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
            plaintext = None
            if not options["rotate_key"] and saved.get("KEY"):
                kept = api_key_authenticate(saved["KEY"])
                if kept is not None and kept.merchant_id == merchant.id:
                    plaintext = saved["KEY"]
            if plaintext is None:
                ApiKey.objects.filter(
                    merchant=merchant, name=DEMO_KEY_NAME, revoked_at=None
                ).update(revoked_at=timezone.now())
                api_key_cache.invalidate()
                plaintext = api_key_issue(merchant=merchant, name=DEMO_KEY_NAME).plaintext
        customer = Customer.objects.get(merchant=merchant, phone=DEMO_PHONE)
        outlet = merchant.outlets.order_by("name").first()
        device = merchant.devices.order_by("name").first()
        manager = merchant.managers.order_by("name").first()
        info: dict[str, str | None] = {
            "merchant_id": str(merchant.id),
            "api_key": plaintext,
            "customer_id": str(customer.id),
            "outlet_id": str(outlet.id) if outlet else None,
            "device_id": str(device.id) if device else None,
            "manager_id": str(manager.id) if manager else None,
            "telegram_start_payload": merchant.telegram_start_payload,
        }
        # A new order id per run, so that the walk's purchase is new and its replay shows.
        order = f"demo-{datetime.now(tz=UTC):%Y%m%d%H%M%S}-{secrets.token_hex(2)}"
        state_write(
            state_path,
            {
                "BASE": base,
                "KEY": plaintext,
                "MERCHANT_ID": str(merchant.id),
                "CUSTOMER_ID": str(customer.id),
                "PHONE": DEMO_PHONE,
                "OUTLET_ID": info["outlet_id"] or "",
                "ORDER": order,
            },
        )
        self.stdout.write("Demo merchant ready:\n" + json.dumps(info, indent=2))
        lines = walk_lines(
            base=base,
            key=plaintext,
            customer_id=str(customer.id),
            outlet_id=info["outlet_id"] or "",
            order=order,
        )
        self.stdout.write(
            f"\nThe key is kept in {state_path} and survives restarts "
            "(demo_setup --rotate-key issues a new one).\n"
            f"Health: curl -s {base}/health\n"
            "The register walk (copy-paste each line; or `source .demo.env` and run the README's "
            "block):\n" + "\n".join(f"  {line}" for line in lines) + "\n"
            f"Admin: {base}/admin/ (create a user: .venv/bin/python manage.py createsuperuser)\n"
            f"API docs: {base}/api/docs/   Webhook guide: docs/webhooks.md\n"
        )
