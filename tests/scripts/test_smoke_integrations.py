"""scripts/smoke-integrations.sh against a fake integration API with an in-memory balance."""

from __future__ import annotations

from .conftest import run_script

MUTATING = ["purchase", "refund", "balance"]


def smoke(server, **env):
    base = {"BASE_URL": server.base_url, "INTEGRATION_API_KEY": server.api_key}
    return run_script("smoke-integrations.sh", env={**base, **env})


def paths(server, method="POST"):
    return [c["path"].rsplit("/", 1)[-1] for c in server.calls if c["method"] == method]


def test_read_only_run_with_a_customer_code(fake_integrations):
    result = smoke(fake_integrations, SMOKE_USER_TOKEN="123456", SMOKE_OUTLET_ID="7")

    assert result.returncode == 0, result.output
    for step in ["config", "code", "customer", "calculate"]:
        assert result.line(step).startswith("[ok]"), result.stdout
    for step in MUTATING:
        assert result.line(step).startswith("[skip]"), result.stdout
    assert "customer 42, balance 120" in result.line("customer")
    assert paths(fake_integrations) == ["code", "calculate"]
    calculate = fake_integrations.calls[-1]["body"]
    assert calculate == {"customer_id": 42, "amount_minor": 100, "redeem_points": 0, "outlet_id": 7}
    assert fake_integrations.customers[42]["balance_points"] == 120
    assert fake_integrations.api_key not in result.output
    assert "123456" not in result.output


def test_mutations_commit_and_refund_and_the_balance_returns(fake_integrations):
    result = smoke(
        fake_integrations,
        SMOKE_USER_TOKEN="123456",
        SMOKE_DEVICE_ID="dev-1",
        SMOKE_ALLOW_MUTATIONS="1",
    )

    assert result.returncode == 0, result.output
    for step in ["code", "customer", "calculate", *MUTATING]:
        assert result.line(step).startswith("[ok]"), result.stdout
    assert paths(fake_integrations) == ["code", "calculate", "purchases", "refunds"]
    purchase = next(c for c in fake_integrations.calls if c["path"].endswith("/purchases"))
    refund = next(c for c in fake_integrations.calls if c["path"].endswith("/refunds"))
    assert purchase["headers"]["Idempotency-Key"].startswith("smoke-")
    assert purchase["body"]["order_id"].startswith("smoke-")
    assert purchase["body"]["device_id"] == "dev-1"
    assert purchase["body"]["amount_minor"] == 100 and purchase["body"]["redeem_points"] == 0
    assert refund["body"] == {"purchase_id": 1}
    assert refund["headers"]["Idempotency-Key"] != purchase["headers"]["Idempotency-Key"]
    assert fake_integrations.customers[42]["balance_points"] == 120
    assert "back to 120" in result.line("balance")


def test_customer_found_by_phone_is_url_encoded(fake_integrations):
    result = smoke(
        fake_integrations,
        SMOKE_PHONE="+79990001122",
        SMOKE_OUTLET_ID="7",
        SMOKE_ALLOW_MUTATIONS="1",
    )

    assert result.returncode == 0, result.output
    assert result.line("code").startswith("[skip]")
    lookup = next(c for c in fake_integrations.calls if c["method"] == "GET")
    assert lookup["query"] == {"phone": ["+79990001122"]}


def test_customer_by_id(fake_integrations):
    result = smoke(fake_integrations, SMOKE_CUSTOMER_ID="42")

    assert result.returncode == 0, result.output
    assert fake_integrations.calls[0]["path"].endswith("/customers/42")


def test_wrong_key_fails_at_the_first_call(fake_integrations):
    result = smoke(fake_integrations, INTEGRATION_API_KEY="not-the-key", SMOKE_USER_TOKEN="123456")

    assert result.returncode != 0
    assert "HTTP 401, expected 200" in result.line("code")
    assert result.line("customer") == ""
    assert "not-the-key" not in result.output


def test_slow_answer_fails_at_its_threshold(fake_integrations):
    fake_integrations.delay["/api/integrations/v1/calculate"] = 0.8

    result = smoke(
        fake_integrations,
        SMOKE_CUSTOMER_ID="42",
        SMOKE_MAX_MS_CALCULATE="250",
        SMOKE_ALLOW_MUTATIONS="1",
        SMOKE_OUTLET_ID="7",
    )

    assert result.returncode != 0
    assert "250 ms limit" in result.line("calculate")
    assert result.line("purchase") == ""
    assert "purchases" not in paths(fake_integrations)


def test_a_refund_that_keeps_points_is_caught(fake_integrations):
    fake_integrations.refund_leaks_points = True

    result = smoke(
        fake_integrations, SMOKE_CUSTOMER_ID="42", SMOKE_ALLOW_MUTATIONS="1", SMOKE_MANAGER_ID="3"
    )

    assert result.returncode != 0
    assert "balance 130 after the refund, expected 120" in result.line("balance")


def test_mutations_need_a_place_of_sale(fake_integrations):
    result = smoke(fake_integrations, SMOKE_CUSTOMER_ID="42", SMOKE_ALLOW_MUTATIONS="1")

    assert result.returncode != 0
    assert "SMOKE_OUTLET_ID" in result.line("config")
    assert fake_integrations.calls == []


def test_missing_key_and_customer_are_reported_together(fake_integrations):
    result = run_script("smoke-integrations.sh", env={"BASE_URL": fake_integrations.base_url})

    assert result.returncode != 0
    line = result.line("config")
    assert "INTEGRATION_API_KEY is not set" in line and "SMOKE_PHONE" in line


def test_help():
    result = run_script("smoke-integrations.sh", "-h")

    assert result.returncode == 0
    assert "SMOKE_ALLOW_MUTATIONS" in result.stdout


def test_wrong_key_hint_points_at_the_key_not_the_customer(fake_integrations):
    result = smoke(fake_integrations, INTEGRATION_API_KEY="not-the-key", SMOKE_CUSTOMER_ID="42")

    assert result.returncode != 0
    assert "HTTP 401, expected 200" in result.line("customer")
    assert "check INTEGRATION_API_KEY" in result.output
    assert "is the smoke customer registered" not in result.output
    assert "not-the-key" not in result.output


def test_unknown_customer_hint_still_points_at_the_customer(fake_integrations):
    result = smoke(fake_integrations, SMOKE_CUSTOMER_ID="999999")

    assert result.returncode != 0
    assert "next: is the smoke customer registered for this merchant's key?" in result.output
    assert "INTEGRATION_API_KEY" not in result.output
