"""The first hour: `make run`'s .env, the printed register walk and the README's block, run for
real against gunicorn on SQLite with the in-process broker (as `make run` serves it).

No SECRET_KEY or DEBUG in the environment: every process (manage.py for the code, gunicorn)
reads them from the same `.env` file, so a code issued by the command is accepted by the server.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from config.env import env_file_local_write
from tests.fixtures.processes import wait_until
from tests.test_embedded_run import answers, free_port, printed_json

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow

DROP = {
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "OUTBOX_ALLOW_PRIVATE_TARGETS",
    "PROMETHEUS_MULTIPROC_DIR",
}


def readme_walk() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Integration API") :]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def walk_from(stdout: str) -> list[str]:
    """The printed walk's command lines (comments dropped), in order."""
    block = stdout[stdout.index("The register walk") :].splitlines()[1:]
    lines = []
    for line in block:
        if not line.startswith("  "):
            break
        if not line.strip().startswith("#"):
            lines.append(line.strip())
    return lines


def bash(script: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def test_make_run_walk_and_readme_block_run_as_printed(tmp_path):
    port = free_port()
    dotenv = tmp_path / ".env"
    assert env_file_local_write(dotenv) is True
    assert env_file_local_write(dotenv) is False  # kept: the key must not change
    assert "DEBUG=1" in dotenv.read_text()
    env = {k: v for k, v in os.environ.items() if k not in DROP}
    env.update(
        {
            "ENV_FILE": str(dotenv),
            "PORT": str(port),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        }
    )
    state = tmp_path / "demo.env"

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    manage("migrate", "--noinput", "-v", "0")
    first = manage("demo_setup", "--port", str(port), "--save", str(state))
    printed = manage("demo_setup", "--port", str(port), "--save", str(state))
    key = printed_json(printed)["api_key"]
    assert printed_json(first)["api_key"] == key  # survives a restart
    info = printed_json(printed)
    log = tmp_path / "gunicorn.log"
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "config.wsgi:application", "-c", "config/gunicorn.py"],
        cwd=ROOT,
        env={**env, "BIND": f"127.0.0.1:{port}"},
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(f"{base}/health", lambda r: r.status_code == 200), timeout=30)

        # The printed walk, line by line, each answer separated by a marker.
        lines = walk_from(printed)
        assert lines[0].startswith("CODE=$(.venv/bin/python manage.py issue_customer_code")
        assert key in lines[1] and info["customer_id"] in lines[3]
        out = bash("".join(f"{line}\necho; echo @@\n" for line in lines), env).split("@@\n")
        code, by_phone, quote, bought, replayed, refund, hooks = (o.strip() for o in out[1:8])
        assert f'"id":"{info["customer_id"]}"' in code.replace(" ", ""), code
        assert info["customer_id"] in by_phone and "+79160000001" in by_phone
        assert '"earn_points"' in quote and '"max_redeem_points"' in quote, quote
        assert '"redeemed_points":50' in bought.replace(" ", ""), bought
        assert "idempotent-replayed: true" in replayed.lower(), replayed
        assert bought.split("\n")[-1] in replayed  # the same body again
        assert '"redeemed_points_returned":50' in refund and info["customer_id"] in refund, refund
        assert '"received"' in hooks

        def verified(kind: str) -> bool:
            received = httpx.get(f"{base}/demo/webhooks", timeout=5).json()["received"]
            return any(m["type"] == kind and m["verified"] is True for m in received)

        wait_until(lambda: verified("purchase.refunded"), timeout=30)
        assert verified("purchase.committed")

        # The README's block after a new `make run` (a new ORDER): one `source` line, as is.
        manage("demo_setup", "--port", str(port), "--save", str(state))
        script = readme_walk()
        assert script.startswith("source .demo.env")
        readme_out = bash(script.replace("source .demo.env", f"source {state}", 1), env)
        assert "idempotent-replayed: true" in readme_out.lower(), readme_out
        assert readme_out.count('"balance_points"') >= 4, readme_out
        assert "problem" not in readme_out, readme_out

        # --rotate-key: a new key; the old one no longer authenticates.
        rotated = printed_json(manage("demo_setup", "--rotate-key", "--save", str(state)))
        assert rotated["api_key"] != key
        headers = {"Authorization": f"Bearer {key}"}
        old = httpx.get(f"{base}/api/integrations/v1/customers/{info['customer_id']}", headers=headers)
        assert old.status_code == 401
        headers = {"Authorization": f"Bearer {rotated['api_key']}"}
        new = httpx.get(f"{base}/api/integrations/v1/customers/{info['customer_id']}", headers=headers)
        assert new.status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
