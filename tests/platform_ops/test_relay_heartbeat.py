"""The relay's heartbeat in /health, /ready and /metrics; the 'database unavailable' alert sent
by a real relay while PostgreSQL is stopped (runbook 003)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.cache import cache_get
from platform_ops.heartbeat import RELAY_HEARTBEAT_CACHE_KEY, relay_heartbeat
from tests.fakes.telegram_bot_api import FakeBotApi
from tests.platform_ops.conftest import ROOT, child_env


def heartbeat_age(text: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "loyalty_relay_heartbeat_age_seconds":
                return sample.value
    return None


def test_no_heartbeat_yet_is_unknown_and_does_not_degrade(client, db):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["relay"]["status"] == "unknown", body
    assert heartbeat_age(client.get("/metrics").content.decode()) is None


def test_fresh_heartbeat_is_ok_everywhere(client, db):
    relay_heartbeat()
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["relay"]["status"] == "ok", body
    assert body["relay"]["age_seconds"] < 5
    ready = client.get("/ready").json()
    assert ready["relay"]["status"] == "ok" and "warnings" not in ready
    assert heartbeat_age(client.get("/metrics").content.decode()) < 5


def test_stale_heartbeat_degrades_health_and_warns_on_ready(client, db):
    relay_heartbeat(now=time.time() - 120)
    response = client.get("/health")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded" and body["failing"] == ["relay"], body
    assert body["relay"]["status"] == "stale" and body["relay"]["age_seconds"] >= 120
    ready = client.get("/ready")
    assert ready.status_code == 200, ready.json()  # a dead relay is not the api's unreadiness
    assert ready.json()["warnings"] == [
        f"relay: heartbeat {ready.json()['relay']['age_seconds']} s old"
    ]
    assert heartbeat_age(client.get("/metrics").content.decode()) >= 120


@pytest.mark.slow
def test_database_unavailable_alert_is_sent_while_postgres_is_down(ops_services, tmp_path):
    token, chat = "123456:db-down-alerts", "4242"
    with FakeBotApi(limits=False) as fake:
        log = tmp_path / "relay.log"
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "outbox_relay"],
            cwd=ROOT,
            env=child_env(
                DATABASE_URL=ops_services.database_url,
                REDIS_URL=ops_services.redis_url,
                TELEGRAM_API_BASE_URL=fake.url,
                ALERT_TELEGRAM_BOT_TOKEN=token,
                ALERT_TELEGRAM_CHAT_ID=chat,
                LOG_LEVEL="info",
            ),
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while cache_get(RELAY_HEARTBEAT_CACHE_KEY) is None:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            assert fake.messages() == []  # the database answers: nothing to say
            ops_services.ctl("pg-stop")
            try:
                [message] = fake.wait_for_messages(1, timeout=40)
                assert message.chat_id == int(chat)
                assert "database unavailable" in message.text
                assert "docs/operations.md#database-unavailable-or-slow" in message.text
                # The relay keeps beating with PostgreSQL down (the cache needs no database).
                beat = cache_get(RELAY_HEARTBEAT_CACHE_KEY)["at"]
                time.sleep(6)
                assert cache_get(RELAY_HEARTBEAT_CACHE_KEY)["at"] > beat
                assert '"recorded": false' in log.read_text()
            finally:
                ops_services.ctl("pg-start")
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
