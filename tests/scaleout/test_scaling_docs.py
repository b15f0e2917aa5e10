"""docs/scaling.md and its compose example name only things that exist.

A metric the plan tells operators to watch must be one the code exports; a variable the multi-host
example sets on the app containers must be documented in .env.production.example; the README must
link the plan. Renaming a metric or a variable without the docs fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SCALING = ROOT / "docs" / "scaling.md"
COMPOSE = ROOT / "docs" / "docker-compose.multihost.example.yml"
METRIC_SOURCES = [ROOT / "outbox" / "metrics.py", ROOT / "platform_ops" / "http_metrics.py"]
METRIC_PREFIXES = ("loyalty_", "outbound_", "outbox_", "http_")


def _documented_metrics() -> set[str]:
    names = set(re.findall(r"`([a-z][a-z0-9_]+)(?:\{[^`]*\})?`", SCALING.read_text()))
    return {name for name in names if name.startswith(METRIC_PREFIXES)}


def test_every_metric_the_plan_names_is_exported() -> None:
    source = "\n".join(path.read_text() for path in METRIC_SOURCES)
    exported = set(re.findall(r'"([a-z][a-z0-9_]+)"', source))
    documented = _documented_metrics()
    assert len(documented) >= 6, documented
    assert sorted(documented - exported) == []


def test_every_app_variable_of_the_example_is_in_the_env_example() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    variables = set(compose["x-app"]["environment"])
    for service in ("api", "worker"):
        variables |= set(compose["services"][service].get("environment", {}))
    variables.discard("<<")
    env_example = (ROOT / ".env.production.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", env_example, flags=re.MULTILINE))
    assert {"RELAY_DATABASE_URL", "REDIS_SENTINELS", "DRAMATIQ_BROKER_URL"} <= variables
    assert sorted(variables - listed) == []


def test_every_service_of_the_example_has_a_health_check_or_says_why_not() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    text = COMPOSE.read_text()
    for name, service in compose["services"].items():
        check = service.get("healthcheck", {})
        if check.get("disable"):
            assert name == "relay", name  # the one service checked elsewhere (/health's relay)
            assert "loyalty_outbox_gauges_age_seconds" in text
        else:
            assert check.get("test"), name


def test_readme_links_the_plan_and_the_example() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "(docs/scaling.md)" in readme
    assert "(docs/docker-compose.multihost.example.yml)" in readme
