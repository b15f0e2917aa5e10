"""deploy/prometheus/alerts.yml and deploy/grafana/loyalty-dashboard.json."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from .contract import (
    ENVIRONMENT,
    METRICS,
    PLATFORM_METRICS,
    PROMETHEUS_SERIES,
    REPO_ROOT,
    contract_section,
    promql_metrics,
)

yaml = pytest.importorskip("yaml")

ALERTS = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERT_TESTS = REPO_ROOT / "deploy" / "prometheus" / "alerts.test.yml"
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "loyalty-dashboard.json"
OPERATIONS_MD = REPO_ROOT / "docs" / "operations.md"

#: What the alert rules must watch (the issue's list).
ALERTED = {
    "http_requests_total",
    "http_slow_requests_total",
    "loyalty_outbox_dead_total",
    "outbound_429_total",
    "telegram_rate_limit_hits_total",
    "outbound_queue_depth",
    "inbound_queue_depth",
    "loyalty_outbox_pending",
    "webhook_processing_lag_seconds",
    "last_success_backup_timestamp_seconds",
    "outbound_send_success_total",
    "outbound_send_failed_total",
}


def rules() -> list[dict]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def doc_anchors() -> set[str]:
    headings = re.findall(r"^#{1,6} (.+)$", OPERATIONS_MD.read_text(encoding="utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_contract_lists_match_contract_md():
    metrics = contract_section("Metrics")
    environment = contract_section("Environment")
    if metrics is None or environment is None:
        pytest.skip("CONTRACT.md is not beside the repository")
    assert set(re.findall(r"`([a-z_0-9]+)(?:\{|`)", metrics)) == METRICS
    assert set(re.findall(r"`([A-Z][A-Z_0-9]+)`", environment)) == ENVIRONMENT


def test_alert_rules_are_well_formed_and_link_the_runbook():
    anchors = doc_anchors()
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names))
    for rule in rules():
        assert rule["labels"]["severity"] in {"page", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        page, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert page == "docs/operations.md"
        assert anchor in anchors, f"{rule['alert']}: no heading for #{anchor}"


def test_alerts_use_only_contract_metrics_and_cover_the_required_ones():
    used = set()
    for rule in rules():
        names = promql_metrics(rule["expr"])
        assert names, rule["alert"]
        allowed = METRICS | PLATFORM_METRICS | PROMETHEUS_SERIES
        assert names <= allowed, f"{rule['alert']}: {names - allowed}"
        used |= names
    assert used >= ALERTED, f"no alert on {ALERTED - used}"


def test_backup_stale_threshold_is_26_hours():
    rule = next(r for r in rules() if r["alert"] == "LoyaltyBackupStale")
    assert "last_success_backup_timestamp_seconds" in rule["expr"]
    assert re.search(r">\s*26\s*\*\s*3600", rule["expr"])


def test_five_xx_uses_the_numeric_status_label():
    rule = next(r for r in rules() if r["alert"] == "LoyaltyHttp5xxBurst")
    assert 'status=~"5.."' in rule["expr"]


@pytest.mark.skipif(not shutil.which("promtool"), reason="no promtool (apt-get install prometheus)")
def test_promtool_checks_and_unit_tests_pass():
    check = subprocess.run(
        ["promtool", "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    unit = subprocess.run(
        ["promtool", "test", "rules", str(ALERT_TESTS)], capture_output=True, text=True, timeout=60
    )
    assert unit.returncode == 0, unit.stdout + unit.stderr


def test_dashboard_is_valid_and_covers_every_contract_metric():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"]
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    used = set()
    for panel in panels:
        assert panel["targets"], panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}"
        for target in panel["targets"]:
            names = promql_metrics(target["expr"])
            assert names <= METRICS | PROMETHEUS_SERIES, f"{panel['title']}: {names - METRICS}"
            used |= names
    assert used >= METRICS, f"no panel shows {METRICS - used}"
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert "datasource" in variables


def test_promql_metric_extraction():
    expr = (
        "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket"
        '{status=~"5..", job="x"}[5m]))) > 1e-3 or max(up) and time() - 26 * 3600'
    )
    assert promql_metrics(expr) == {"http_request_duration_seconds", "up"}


PROMETHEUS_CONFIG = REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml"


def test_scrape_config_covers_every_process_kind():
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    # api: the merged figures of api, relay and workers, with the metrics token as a bearer.
    api = jobs["loyalty-api"]
    assert api["static_configs"][0]["targets"] == ["api:8080"]
    assert api["authorization"]["type"] == "Bearer" and api["authorization"]["credentials_file"]
    # workers: every replica by DNS, only dramatiq_* kept (the rest is in the api's merge).
    worker = jobs["loyalty-worker"]
    assert worker["dns_sd_configs"][0]["names"] == ["worker"]
    assert worker["dns_sd_configs"][0]["port"] == 9191
    assert worker["metric_relabel_configs"] == [
        {"source_labels": ["__name__"], "regex": "dramatiq_.*", "action": "keep"}
    ]
    assert config["rule_files"] == ["alerts.yml"]
    # The relay has no port: it is watched by its heartbeat rule; every target by `up`.
    names = {rule["alert"]: rule["expr"] for rule in rules()}
    assert "loyalty_relay_heartbeat_timestamp_seconds" in names["LoyaltyRelayNotRunning"]
    assert "absent(" in names["LoyaltyRelayNotRunning"]
    assert names["LoyaltyScrapeTargetDown"].startswith("up{")


@pytest.mark.skipif(not shutil.which("promtool"), reason="no promtool (apt-get install prometheus)")
def test_promtool_checks_the_scrape_config(tmp_path):
    # promtool wants the bearer file to exist: a copy with the path pointed into tmp_path.
    for name in ("prometheus.yml", "alerts.yml"):
        shutil.copy(PROMETHEUS_CONFIG.parent / name, tmp_path / name)
    token = tmp_path / "metrics_token"
    token.write_text("token")
    config = tmp_path / "prometheus.yml"
    text = config.read_text()
    assert "/prometheus/metrics_token" in text
    config.write_text(text.replace("/prometheus/metrics_token", str(token)))
    check = subprocess.run(
        ["promtool", "check", "config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr


SLO_MD = REPO_ROOT / "docs" / "slo.md"
ALERTMANAGER = REPO_ROOT / "deploy" / "alertmanager" / "alertmanager.yml"


def test_slo_doc_names_existing_rules_and_figures():
    table = [
        line for line in SLO_MD.read_text(encoding="utf-8").splitlines() if line.startswith("| ")
    ][2:]
    assert len(table) >= 6
    rule_names = {rule["alert"]: rule for rule in rules()}
    used_by_rules = set().union(*(promql_metrics(rule["expr"]) for rule in rules()))
    for row in table:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        alerts = set(re.findall(r"`(Loyalty[A-Za-z0-9]+)`", cells[3]))
        assert alerts, row
        assert alerts <= set(rule_names), f"{row}: no rule {alerts - set(rule_names)}"
        figures = {
            name.rstrip("*_")
            for name in re.findall(r"`([a-z_]+)[^`]*`", cells[2])
            if not name.endswith("_")
        }
        assert figures & used_by_rules, f"{row}: no figure of the row is used by a rule"
    delivery = rule_names["LoyaltyDeliverySloAtRisk"]["expr"]
    assert 'le="300"' in delivery and "0.99" in delivery  # "within 5 minutes", 99%


def test_alertmanager_example_routes_page_and_warning():
    config = yaml.safe_load(ALERTMANAGER.read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    routes = {tuple(r["matchers"]): r["receiver"] for r in config["route"]["routes"]}
    assert routes[('severity="page"',)] == "page"
    assert routes[('severity="warning"',)] == "warning"
    for name in ("page", "warning"):
        assert receivers[name]["telegram_configs"] and receivers[name]["email_configs"]
        for telegram in receivers[name]["telegram_configs"]:
            assert "bot_token" not in telegram, "the token belongs in bot_token_file"
    severities = {rule["labels"]["severity"] for rule in rules()}
    assert severities <= {"page", "warning"}


@pytest.mark.skipif(
    not shutil.which("amtool"), reason="no amtool (apt-get install prometheus-alertmanager)"
)
def test_amtool_accepts_the_alertmanager_example(tmp_path):
    config = ALERTMANAGER
    version = subprocess.run(["amtool", "--version"], capture_output=True, text=True).stdout
    found = re.search(r"version (\d+)\.(\d+)", version + " version 0.0")
    assert found
    if (int(found.group(1)), int(found.group(2))) < (0, 26):
        # bot_token_file arrived in Alertmanager 0.26 (the example targets it); an older local
        # amtool checks everything else with an inline placeholder in a copy.
        config = tmp_path / "alertmanager.yml"
        config.write_text(
            ALERTMANAGER.read_text().replace(
                "bot_token_file: /etc/alertmanager/secrets/telegram_bot_token",
                "bot_token: placeholder",
            )
        )
    check = subprocess.run(
        ["amtool", "check-config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_procedure_table_answers_every_row():
    text = OPERATIONS_MD.read_text(encoding="utf-8")
    section = text.split("## Runbook procedures and their answers", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| ")][2:]
    assert len(rows) >= 60
    seen_runbooks = set()
    for row in rows:
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip().strip("|"))]
        assert len(cells) == 5, row
        seen_runbooks.add(cells[0][:3])
        answer = cells[4]
        assert re.match(r"(works|partial|n/a)\b", answer), row
        if not answer.startswith("works"):
            assert ":" in answer and len(answer.split(":", 1)[1].strip()) > 10, (
                f"no reason given: {row}"
            )
    assert seen_runbooks == {"000", "001", "002", "003", "004"}
