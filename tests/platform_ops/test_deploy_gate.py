"""The schema gate (runbook 003): ``deploy_gate``, the relay's refusal, and the api's degraded
start against a database that misses a migration."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tests.platform_ops.conftest import child_env, manage

pytestmark = pytest.mark.slow


def test_deploy_gate_passes_when_in_sync(ops_services):
    result = manage("deploy_gate", env=child_env(DATABASE_URL=ops_services.database_url))
    assert result.returncode == 0, result.stderr
    assert "schema matches the code" in result.stdout


def test_deploy_gate_reports_model_changes_without_migration(db, settings):
    # As if platform_ops' models had been written without makemigrations.
    settings.MIGRATION_MODULES = {"platform_ops": "tests.platform_ops.no_migrations"}
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("deploy_gate", stdout=out, stderr=err)
    assert exit_info.value.code == 1
    assert "model changes have no migration" in err.getvalue()
    assert "platform_ops: Create model Alert" in err.getvalue()
    assert "schema matches" not in out.getvalue()


def test_schema_behind_gate_relay_and_degraded_api(ops_services, api_server):
    behind = child_env(DATABASE_URL=ops_services.behind_url, REDIS_URL=ops_services.redis_url)
    try:
        gate = manage("deploy_gate", env=behind)
        assert gate.returncode == 1
        assert "1 migrations not applied" in gate.stderr
        assert "platform_ops.0001_initial" in gate.stderr

        relay = manage("outbox_relay", "--once", env=behind)
        assert relay.returncode == 1
        lines = relay.stderr.strip().splitlines()
        assert len(lines) == 1 and "refusing to start" in lines[0], relay.stderr
        assert "platform_ops.0001_initial" in lines[0]

        server = api_server(DATABASE_URL=ops_services.behind_url, REDIS_URL=ops_services.redis_url)
        health = server.get("/health")
        assert health.status_code == 200, health.text
        assert health.json()["status"] == "degraded" and health.json()["failing"] == ["schema"]
        assert server.get("/live").status_code == 200
        ready = server.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["reasons"] == ["migrations: 1 migrations not applied"]
        assert ready.json()["checks"]["migrations"]["missing"] == ["platform_ops.0001_initial"]

        for method, path in (
            ("POST", "/api/integrations/v1/customers"),
            ("DELETE", "/api/integrations/v1/customers/x"),
            ("POST", "/admin/login/"),
        ):
            write = server.request(method, path, json={"phone": "+79161234567"})
            assert write.status_code == 503, (method, path, write.text)
            assert write.headers["Content-Type"] == "application/problem+json"
            assert write.json()["type"].endswith("/schema-behind")
            assert "Retry-After" in write.headers
        # The Telegram webhook is served in degraded mode too (its own secret check answers).
        telegram = server.request("POST", "/api/telegram/webhook", json={"update_id": 1})
        assert telegram.status_code == 403, telegram.text
        # Reads are not refused (they fail or succeed on their own merits, not with 503).
        assert server.get("/api/integrations/v1/customers").status_code in (401, 403)
        assert server.get("/admin/login/").status_code == 200

        migrated = manage("migrate", "-v0", env=behind)
        assert migrated.returncode == 0, migrated.stderr
        assert server.get("/ready").status_code == 200  # honest at once, no restart
        gate = manage("deploy_gate", env=behind)
        assert gate.returncode == 0 and "schema matches the code" in gate.stdout
    finally:
        manage("migrate", "platform_ops", "zero", "-v0", env=behind)
