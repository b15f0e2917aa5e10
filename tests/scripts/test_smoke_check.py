"""scripts/smoke-check.sh against a fake API on loopback."""

from __future__ import annotations

import re

from .conftest import run_script

STEPS = ["health", "ready", "live", "metrics", "metrics-auth"]


def smoke(server, **env):
    return run_script("smoke-check.sh", env={"BASE_URL": server.base_url, **env})


def test_all_checks_pass_with_a_token(fake_ops):
    fake_ops.metrics_token = "tok-" + "x" * 20

    result = smoke(fake_ops, METRICS_TOKEN=fake_ops.metrics_token)

    assert result.returncode == 0, result.output
    for step in STEPS:
        assert re.match(rf"\[ok\]\s+{re.escape(step)}\s+\d+ ms", result.line(step)), result.stdout
    assert "status=ok" in result.line("health")
    assert "401 without a token" in result.line("metrics-auth")
    assert fake_ops.metrics_token not in result.output
    sent = [c["headers"].get("X-Metrics-Token") for c in fake_ops.calls if c["path"] == "/metrics"]
    assert sent == [fake_ops.metrics_token, None]


def test_a_rotation_list_sends_its_first_token(fake_ops):
    fake_ops.metrics_token = "new-" + "x" * 20
    result = smoke(fake_ops, METRICS_TOKEN=f"{fake_ops.metrics_token}, old-{'y' * 20}")
    assert result.returncode == 0, result.output
    sent = [c["headers"].get("X-Metrics-Token") for c in fake_ops.calls if c["path"] == "/metrics"]
    assert sent == [fake_ops.metrics_token, None]
    assert fake_ops.metrics_token not in result.output


def test_without_a_token_the_auth_check_is_skipped(fake_ops):
    result = smoke(fake_ops)

    assert result.returncode == 0, result.output
    assert result.line("metrics-auth").startswith("[skip]")


def test_degraded_health_passes_and_names_the_failing_check(fake_ops):
    fake_ops.health_status = "degraded"

    result = smoke(fake_ops)

    assert result.returncode == 0, result.output
    assert "status=degraded (redis: fail)" in result.line("health")


def test_wrong_token_fails_at_metrics(fake_ops):
    fake_ops.metrics_token = "the-right-one"

    result = smoke(fake_ops, METRICS_TOKEN="a-wrong-one")

    assert result.returncode != 0
    assert result.line("metrics").startswith("[fail]")
    assert "401" in result.line("metrics") and "rejected" in result.line("metrics")
    assert result.line("metrics-auth") == ""
    assert "a-wrong-one" not in result.output


def test_missing_token_on_a_protected_server_fails(fake_ops):
    fake_ops.metrics_token = "needed"

    result = smoke(fake_ops)

    assert result.returncode != 0
    assert "set METRICS_TOKEN" in result.line("metrics")


def test_unprotected_metrics_fail_the_auth_check(fake_ops):
    result = smoke(fake_ops, METRICS_TOKEN="anything")

    assert result.returncode != 0
    assert result.line("metrics").startswith("[ok]")
    assert "not protected" in result.line("metrics-auth")


def test_503_health_stops_the_run(fake_ops):
    fake_ops.status["/health"] = 503

    result = smoke(fake_ops)

    assert result.returncode != 0
    assert "HTTP 503, expected 200" in result.line("health")
    assert result.line("ready") == ""
    assert [c["path"] for c in fake_ops.calls] == ["/health"]


def test_health_status_fail_with_200_is_a_failure(fake_ops):
    fake_ops.health_status = "fail"

    result = smoke(fake_ops)

    assert result.returncode != 0
    assert result.line("health").startswith("[fail]")


def test_slow_check_fails_at_its_limit(fake_ops):
    fake_ops.delay["/ready"] = 1.0

    result = smoke(fake_ops, SMOKE_MAX_MS_READY="300")

    assert result.returncode != 0
    line = result.line("ready")
    assert line.startswith("[fail]") and "300 ms limit" in line
    elapsed = int(re.search(r"(\d+) ms", line).group(1))
    assert elapsed < 900, "curl --max-time must cut the request at the limit"
    assert result.line("health").startswith("[ok]")


def test_unreachable_server_fails(fake_ops):
    base = fake_ops.base_url
    fake_ops.stop()

    result = run_script("smoke-check.sh", env={"BASE_URL": base})

    assert result.returncode != 0
    assert "request failed" in result.line("health")


def test_bad_limit_is_refused():
    result = run_script("smoke-check.sh", env={"SMOKE_MAX_MS_LIVE": "fast"})

    assert result.returncode == 2
    assert "SMOKE_MAX_MS_LIVE" in result.stderr


def test_help():
    result = run_script("smoke-check.sh", "--help")

    assert result.returncode == 0
    assert "Usage:" in result.stdout and "METRICS_TOKEN" in result.stdout
