"""The names CONTRACT.md promises, as the operations assets must use them.

Kept here so the tests run without the shared folder; ``contract_section`` re-reads CONTRACT.md
when it is beside the repository so the two cannot drift apart silently.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACT_MD = REPO_ROOT.parent / "shared" / "CONTRACT.md"

METRICS = {
    "http_requests_total",
    "http_request_duration_seconds",
    "http_slow_requests_total",
    "loyalty_outbox_pending",
    "loyalty_outbox_dead_total",
    "external_requests_total",
    "portal_auth_login_total",
    "portal_auth_refresh_total",
    "inbound_queue_depth",
    "outbound_queue_depth",
    "webhook_processing_lag_seconds",
    "outbound_send_success_total",
    "outbound_send_failed_total",
    "outbound_429_total",
    "telegram_rate_limit_hits_total",
    "db_query_duration_seconds",
    "last_success_backup_timestamp_seconds",
    "bot_errors_total",
}

ENVIRONMENT = {
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "PORT",
    "LOG_LEVEL",
    "SENTRY_DSN",
    "API_BASE_URL",
    "METRICS_TOKEN",
    "WORKERS_ENABLED",
    "MAINTENANCE_MODE",
    "READ_ONLY_MODE",
    "RATE_LIMIT_MODE",
    "DB_SLOW_QUERY_MS",
    "TELEGRAM_NOTIFY_BOT_TOKEN",
    "TELEGRAM_NOTIFY_WEBHOOK_SECRET",
    "TELEGRAM_API_BASE_URL",
    "ALERT_TELEGRAM_BOT_TOKEN",
    "ALERT_TELEGRAM_CHAT_ID",
    "ALERT_HTTP_5XX_PER_MIN",
    "ALERT_HTTP_SLOW_PER_MIN",
    "ALERT_HTTP_SLOW_THRESHOLD_MS",
    "ALERT_OUTBOX_DEAD_DELTA",
    "ALERTS_5XX_SAMPLE_RATE",
    "OUTBOX_ALLOW_PRIVATE_TARGETS",
    "DRAMATIQ_BROKER_URL",
    "RELAY_DATABASE_URL",
    "REDIS_SENTINELS",
    "REDIS_SENTINEL_MASTER",
    "OUTBOX_ENCRYPTION_KEYS",
}

#: Variables the deployment itself reads (compose interpolation, scripts).
DEPLOYMENT_ENVIRONMENT = {
    "IMAGE_TAG",
    "IMAGE_REPO",
    "BACKUP_DIR",
    "BACKUP_KEEP",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
}

#: Series Prometheus makes itself, allowed in rules and panels besides the app's metrics.
PROMETHEUS_SERIES = {"up"}

#: The platform's own figures beyond CONTRACT's list (docs/operations.md, Monitoring), allowed
#: in rules; tests/platform_ops/test_metrics.py checks that /metrics declares each of them.
PLATFORM_METRICS = {
    "loyalty_relay_heartbeat_timestamp_seconds",
    "loyalty_relay_heartbeat_age_seconds",
    "loyalty_outbox_gauges_age_seconds",
    "loyalty_outbox_went_dead_total",
    "outbox_commit_to_delivered_seconds",
}

_PROMQL_WORDS = {
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "topk",
    "bottomk",
    "quantile",
    "rate",
    "irate",
    "increase",
    "delta",
    "deriv",
    "histogram_quantile",
    "time",
    "absent",
    "absent_over_time",
    "avg_over_time",
    "max_over_time",
    "min_over_time",
    "sum_over_time",
    "clamp_min",
    "clamp_max",
    "abs",
    "vector",
    "scalar",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "label_replace",
}


def contract_section(title: str) -> str | None:
    """The text of CONTRACT.md's "## <title>..." section, or None when the file is not there."""
    if not CONTRACT_MD.exists():
        return None
    text = CONTRACT_MD.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}.*?$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"CONTRACT.md has no section {title!r}"
    return match.group(1)


def promql_metrics(expr: str) -> set[str]:
    """Metric names an expression reads, histogram suffixes folded onto the base name."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b\d+(\.\d+)?([eE][+-]?\d+)?\b", "", expr)
    names = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr)) - _PROMQL_WORDS
    folded = set()
    for name in names:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        folded.add(base if base in METRICS | PLATFORM_METRICS else name)
    return folded
