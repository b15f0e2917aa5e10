"""Every portal endpoint is in the served OpenAPI schema, tagged portal, signed-in ones with the
portal's own security scheme (the access token)."""

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
            # Signed-in operations document their 401 and name the access-token scheme.
            assert "401" in operation["responses"], (path, method)
            assert operation.get("security") == [{"PortalAccessToken": []}], (path, method)
    assert get_resolver()  # the URLconf loads
