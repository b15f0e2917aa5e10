"""Prometheus metrics of the merchant portal (CONTRACT names)."""

from __future__ import annotations

from prometheus_client import Counter

PORTAL_AUTH_LOGIN = Counter(
    "portal_auth_login_total", "Portal sign-in attempts by result (ok, failed).", ["result"]
)
PORTAL_AUTH_REFRESH = Counter(
    "portal_auth_refresh_total", "Portal token refreshes by result (ok, failed).", ["result"]
)
for _result in ("ok", "failed"):
    # Zero-valued children, so the series exist before the first sign-in.
    PORTAL_AUTH_LOGIN.labels(result=_result)
    PORTAL_AUTH_REFRESH.labels(result=_result)
