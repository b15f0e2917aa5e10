"""Every portal endpoint is in the served OpenAPI schema, tagged portal.

No security scheme of its own yet: tests/integrations/test_openapi.py pins the schemes to the
integration API's two (the lead's call to widen; see the README's portal section)."""

from __future__ import annotations

import pytest
from django.urls import get_resolver

from portal.urls import api_urlpatterns

pytestmark = pytest.mark.django_db

PUBLIC = {"/api/portal/v1/auth/login", "/api/portal/v1/auth/refresh", "/api/portal/v1/auth/logout"}


def test_every_portal_endpoint_is_documented(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = {p: ops for p, ops in schema["paths"].items() if p.startswith("/api/portal/v1/")}
    assert len(paths) == len(api_urlpatterns)
    for path, operations in paths.items():
        for method, operation in operations.items():
            if method not in {"get", "post", "patch", "put", "delete"}:
                continue
            assert operation["tags"] == ["portal"], (path, method)
            if path in PUBLIC:
                continue
            # Signed-in operations document their 401 (the Bearer access token).
            assert "401" in operation["responses"], (path, method)
    assert get_resolver()  # the URLconf loads
