"""Prometheus metrics of the merchant portal (CONTRACT names)."""

from __future__ import annotations

from prometheus_client import Counter

PORTAL_AUTH_LOGIN = Counter(
    "portal_auth_login_total",
    "Portal sign-in attempts by result (ok, failed, throttled).",
    ["result"],
)
PORTAL_AUTH_REFRESH = Counter(
    "portal_auth_refresh_total",
    "Portal token refreshes by result (ok, failed, reuse: a rotated token came back).",
    ["result"],
)
PORTAL_AUTH_THROTTLED = Counter(
    "portal_auth_throttled_total",
    "Portal sign-ins refused by the throttle, by the scope that is locked (account, address).",
    ["scope"],
)
for _result in ("ok", "failed", "throttled"):
    # Zero-valued children, so the series exist before the first sign-in.
    PORTAL_AUTH_LOGIN.labels(result=_result)
for _result in ("ok", "failed", "reuse"):
    PORTAL_AUTH_REFRESH.labels(result=_result)
for _scope in ("account", "address"):
    PORTAL_AUTH_THROTTLED.labels(scope=_scope)
