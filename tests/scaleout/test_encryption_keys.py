"""OUTBOX_ENCRYPTION_KEYS: endpoint secrets rotate to a new key without breaking deliveries.

A secret stored under key A (and one stored under the key derived from SECRET_KEY, as before
OUTBOX_ENCRYPTION_KEYS existed) keeps verifying at a real receiver while the worker runs with
"B,A"; ``outbox_reencrypt_secrets`` moves both to B; then a worker with "B" alone delivers."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.core.management.base import CommandError
from standardwebhooks import Webhook

from loyalty.services import purchase_commit
from outbox.models import WebhookEndpoint
from outbox.services import webhook_endpoint_create
from tests.factories import make_customer, make_merchant
from tests.fixtures.processes import ROOT

pytestmark = pytest.mark.slow


def under(key: str, endpoint: WebhookEndpoint) -> bool:
    endpoint.refresh_from_db()
    try:
        Fernet(key).decrypt(endpoint.secret_encrypted.encode())
    except InvalidToken:
        return False
    return True


def verified(receiver, secrets: dict[str, str], count: int) -> dict[str, list[str]]:
    """Event types per endpoint (by the receiver path's query), each signature verified."""
    seen: dict[str, list[str]] = {}
    for request in receiver.wait_for(count, timeout=30):
        name = request.path.rpartition("?")[2]
        Webhook(secrets[name]).verify(request.body, request.headers)
        seen.setdefault(name, []).append(request.json()["type"])
    return seen


def test_secrets_rotate_from_a_to_b_without_breaking_deliveries(
    stack, receiver, settings, transactional_db, capsys
):
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    setup = make_merchant("Rotating")
    settings.OUTBOX_ENCRYPTION_KEYS = []
    legacy, legacy_secret = webhook_endpoint_create(
        merchant=setup.merchant, url=receiver.url + "?legacy"
    )
    settings.OUTBOX_ENCRYPTION_KEYS = [key_a]
    endpoint_a, secret_a = webhook_endpoint_create(merchant=setup.merchant, url=receiver.url + "?a")
    assert under(key_a, endpoint_a) and not under(key_a, legacy)
    secrets = {"legacy": legacy_secret, "a": secret_a}
    customer = make_customer(setup.merchant)  # customer.created to both endpoints

    # B is the newest key, A and the derived one still decrypt.
    stack.relay()
    stack.worker(OUTBOX_ENCRYPTION_KEYS=f"{key_b},{key_a}")
    assert verified(receiver, secrets, 2) == {
        "legacy": ["customer.created"],
        "a": ["customer.created"],
    }

    rotated = subprocess.run(
        [sys.executable, "manage.py", "outbox_reencrypt_secrets"],
        cwd=ROOT,
        env={**stack.env, "OUTBOX_ENCRYPTION_KEYS": f"{key_b},{key_a}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted 2 endpoint secrets" in rotated.stdout
    assert "re-encrypting" in rotated.stderr  # the progress bar
    assert under(key_b, endpoint_a) and under(key_b, legacy)
    assert not under(key_a, endpoint_a)

    # Idempotent: a second run finds everything under the newest key and writes nothing.
    settings.OUTBOX_ENCRYPTION_KEYS = [key_b, key_a]
    tokens = set(WebhookEndpoint.objects.values_list("secret_encrypted", flat=True))
    call_command("outbox_reencrypt_secrets")
    assert "re-encrypted 0 endpoint secrets under the newest key; 2 were already" in (
        capsys.readouterr().out
    )
    assert set(WebhookEndpoint.objects.values_list("secret_encrypted", flat=True)) == tokens

    # A is gone: B alone delivers to both.
    stack.stop("worker")
    stack.worker("worker-b", OUTBOX_ENCRYPTION_KEYS=key_b)
    purchase_commit(
        merchant=setup.merchant,
        customer_id=customer.id,
        amount_minor=40_00,
        order_id="K-1",
        outlet_id=setup.outlet.id,
    )
    seen = verified(receiver, secrets, 4)
    assert seen["legacy"][-1] == seen["a"][-1] == "purchase.committed"
    assert "InvalidToken" not in stack.log("worker") + stack.log("worker-b")


def test_reencrypt_reports_secrets_no_key_decrypts(settings, db, capsys):
    setup = make_merchant("Lost key")
    settings.OUTBOX_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    endpoint, _ = webhook_endpoint_create(merchant=setup.merchant, url="https://example.com/h")
    settings.OUTBOX_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match=str(endpoint.id)):
        call_command("outbox_reencrypt_secrets")
    assert "1 readable by no configured key" in capsys.readouterr().out


def test_reencrypt_help_says_what_it_does(capsys):
    with pytest.raises(SystemExit):
        call_command("outbox_reencrypt_secrets", "--help")
    assert "newest key" in capsys.readouterr().out
