"""SENTRY_DSN: a real process reports an error to a Sentry-speaking HTTP server on loopback, and
no configured secret reaches it (config/sentry.py)."""

from __future__ import annotations

import gzip
import subprocess
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.platform_ops.conftest import ROOT, child_env

pytestmark = pytest.mark.slow

BOT_TOKEN = "123456:SUPERSECRETbottoken0123456789"
WEBHOOK_SECRET = "webhook-secret-oncall-0123"


class Envelopes:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                encoding = self.headers.get("content-encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                received.bodies.append(body)
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]


SCRIPT = """
import sentry_sdk
from django.conf import settings

def fail(bot_token, query):
    raise RuntimeError("telegram refused " + bot_token + " for " + query)

try:
    fail(settings.TELEGRAM_NOTIFY_BOT_TOKEN, "phone=+79161234567")
except Exception:
    sentry_sdk.capture_exception()
sentry_sdk.flush(10)
"""


def test_errors_reach_sentry_without_secrets():
    envelopes = Envelopes()
    try:
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", SCRIPT],
            cwd=ROOT,
            env=child_env(
                SENTRY_DSN=f"http://publickey@127.0.0.1:{envelopes.port}/42",
                TELEGRAM_NOTIFY_BOT_TOKEN=BOT_TOKEN,
                TELEGRAM_NOTIFY_WEBHOOK_SECRET="webhook-secret-oncall-0123",
                DEBUG="1",
            ),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    finally:
        envelopes.server.shutdown()
    sent = b"\n".join(envelopes.bodies).decode(errors="replace")
    assert "RuntimeError" in sent and "telegram refused" in sent, sent[:500]
    assert "[Filtered]" in sent
    assert BOT_TOKEN not in sent and "SUPERSECRETbottoken" not in sent
    assert WEBHOOK_SECRET not in sent


def test_no_dsn_sends_nothing_and_needs_nothing():
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "import sentry_sdk; print(sentry_sdk.get_client().is_active())",
        ],
        cwd=ROOT,
        env=child_env(DEBUG="1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"
