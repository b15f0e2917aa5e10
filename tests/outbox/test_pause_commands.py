"""outbox_pause / outbox_resume refuse a bad scope with one plain line, like outbox_replay."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from outbox.models import OutboxPause

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
@pytest.mark.parametrize("command", ["outbox_pause", "outbox_resume"])
@pytest.mark.parametrize("flag", ["--merchant", "--endpoint"])
def test_a_scope_that_is_not_a_uuid_is_one_clean_error(command, flag):
    args = [command, flag, "demo"] + (["--reason", "x"] if command == "outbox_pause" else [])
    with pytest.raises(CommandError, match=f"{flag} must be a UUID .got 'demo'."):
        call_command(*args)
    assert not OutboxPause.objects.exists()


@pytest.mark.django_db
def test_an_unknown_merchant_or_endpoint_is_one_clean_error():
    missing = str(uuid.uuid4())
    with pytest.raises(CommandError, match=f"no merchant with id {missing}"):
        call_command("outbox_pause", "--merchant", missing, "--reason", "x")
    with pytest.raises(CommandError, match=f"no webhook endpoint with id {missing}"):
        call_command("outbox_pause", "--endpoint", missing, "--reason", "x")
    assert not OutboxPause.objects.exists()


def test_from_the_shell_it_is_one_line_and_no_traceback():
    result = subprocess.run(
        [sys.executable, "manage.py", "outbox_pause", "--merchant", "demo", "--reason", "x"],
        cwd=ROOT,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == "CommandError: --merchant must be a UUID (got 'demo')"
