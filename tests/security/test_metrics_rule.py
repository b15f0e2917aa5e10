"""/metrics is never open by accident in production: DEBUG=0 needs METRICS_TOKEN to start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage_check(**overrides: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "METRICS_PUBLIC"}}
    env.update({"SECRET_KEY": "x" * 40, "DEBUG": "0"})
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_with_metrics_open():
    refused = _manage_check(METRICS_TOKEN=None)
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "METRICS_TOKEN is required" in lines[0], refused.stderr
    assert _manage_check(METRICS_TOKEN="scrape-secret").returncode == 0, _manage_check().stderr
    assert _manage_check(METRICS_TOKEN=None, METRICS_PUBLIC="1").returncode == 0
