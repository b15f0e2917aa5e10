"""Every operations script is shellcheck-clean, strict, executable and documents itself."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .conftest import REPO_ROOT, SCRIPTS, run_script

ENTRY_POINTS = [
    "deploy.sh",
    "smoke-check.sh",
    "smoke-integrations.sh",
    "backup.sh",
    "backup-verify.sh",
    "restore.sh",
]


def shellcheck() -> str | None:
    return shutil.which("shellcheck") or (
        str(REPO_ROOT / ".venv/bin/shellcheck")
        if (REPO_ROOT / ".venv/bin/shellcheck").exists()
        else None
    )


def test_shellcheck_passes_on_every_script():
    binary = shellcheck()
    if binary is None:
        pytest.fail(
            "shellcheck is not installed (make test installs it: apt-get install -y shellcheck)"
        )
    scripts = sorted(str(p.relative_to(REPO_ROOT)) for p in SCRIPTS.glob("*.sh"))
    assert len(scripts) >= len(ENTRY_POINTS)
    result = subprocess.run(
        [binary, "--external-sources", "--severity=style", *scripts],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_entry_point_is_strict_executable_and_has_help(name):
    path = SCRIPTS / name
    text = path.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert path.stat().st_mode & 0o111, f"{name} is not executable"
    result = run_script(name, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: scripts/")
    assert "set -x" not in text, "tracing would print secrets"
