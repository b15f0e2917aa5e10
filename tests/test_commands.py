"""Operator commands: create_merchant, issue_customer_code, outbox_pause/resume/replay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from integrations.services import api_key_authenticate
from loyalty.models import Merchant
from loyalty.services import customer_code_redeem
from outbox.models import Delivery, DeliveryStatus, OutboxPause
from tests.factories import make_customer

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_create_merchant_prints_contract_fields(receiver):
    data = json.loads(
        run(
            "create_merchant",
            "--name",
            "Cafe",
            "--webhook-url",
            receiver.url,
            "--telegram-chat-id",
            "42",
        )
    )
    assert set(data) == {
        "merchant_id",
        "api_key",
        "webhook_endpoint_id",
        "webhook_secret",
        "outlet_id",
        "device_id",
        "manager_id",
        "telegram_start_payload",
    }
    assert data["webhook_secret"].startswith("whsec_")
    key = api_key_authenticate(data["api_key"])
    assert key is not None and str(key.merchant_id) == data["merchant_id"]
    assert Merchant.objects.get(id=data["merchant_id"]).telegram_chat_id == 42


@pytest.mark.django_db
def test_create_merchant_refuses_private_webhook(settings):
    settings.OUTBOX_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(CommandError, match="non-public"):
        run("create_merchant", "--name", "Cafe", "--webhook-url", "http://10.0.0.1/x")
    assert Merchant.objects.count() == 0


@pytest.mark.django_db
def test_issue_customer_code_is_usable_once(merchant):
    customer = make_customer(merchant)
    code = run("issue_customer_code", "--customer-id", str(customer.id)).strip()
    assert code.isdigit() and len(code) == 9
    assert customer_code_redeem(merchant=merchant, code=code).customer == customer
    with pytest.raises(CommandError, match="UUID"):
        run("issue_customer_code", "--customer-id", "nope")


@pytest.mark.django_db
def test_pause_resume_and_replay_commands(merchant):
    run("outbox_pause", "--merchant", str(merchant.id), "--reason", "receiver down")
    assert OutboxPause.objects.filter(resumed_at=None, merchant=merchant).count() == 1
    assert "resumed" in run("outbox_resume", "--merchant", str(merchant.id))
    with pytest.raises(CommandError):
        run("outbox_pause", "--channel", "webhook", "--reason", " ")
    make_customer(merchant)  # no endpoints: no deliveries
    assert "0 deliveries would be replayed" in run("outbox_replay", "--dry-run")
    with pytest.raises(CommandError, match="ISO 8601"):
        run("outbox_replay", "--since", "yesterday")


@pytest.mark.django_db
def test_replay_command_requeues_dead(merchant, receiver):
    from outbox.services import webhook_endpoint_create

    webhook_endpoint_create(merchant=merchant, url=receiver.url)
    make_customer(merchant)
    make_customer(merchant)
    Delivery.objects.update(status=DeliveryStatus.DEAD, attempts=8)
    assert "2 deliveries would be replayed" in run(
        "outbox_replay", "--dry-run", "--event-type", "customer.created"
    )
    assert "replayed 2" in run("outbox_replay", "--merchant", str(merchant.id))
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING, attempts=0).count() == 2


@pytest.mark.parametrize(
    "command",
    [
        "create_merchant",
        "issue_customer_code",
        "outbox_pause",
        "outbox_resume",
        "outbox_replay",
        "outbox_relay",
        "rundramatiq",
        "demo_setup",
    ],
)
def test_every_command_has_help(command):
    result = subprocess.run(
        [sys.executable, "manage.py", command, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "usage:" in result.stdout


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "bench").glob("bench_*.py")))
def test_every_benchmark_has_help_without_any_settings(script):
    # As printed in the README: ``python bench/<script> --help`` on a shell with nothing set.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "METRICS_PUBLIC", "METRICS_TOKEN", "DJANGO_SETTINGS_MODULE"}
    }
    result = subprocess.run(
        [sys.executable, f"bench/{script}", "--help"],
        cwd=ROOT,
        env={**env, "ENV_FILE": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "usage:" in result.stdout, result.stderr[-800:]


def test_relay_waits_for_an_unreachable_database_with_one_line_per_try(tmp_path):
    import os
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    env = {**os.environ, "DATABASE_URL": f"postgres://x:y@127.0.0.1:{port}/nowhere"}
    log = tmp_path / "relay.err"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "outbox_relay"],
            cwd=ROOT,
            env=env,
            stderr=err,
            stdout=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while "waiting for the database" not in log.read_text():
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert all(line.startswith("outbox_relay: waiting for the database") for line in lines), lines
