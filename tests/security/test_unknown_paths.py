"""Unknown API paths are problem+json 404s in every mode; ``/`` leads somewhere useful."""

from __future__ import annotations

import pytest

from core.problems import CONTENT_TYPE


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
@pytest.mark.parametrize(
    "path", ["/api/nope", "/api/integrations/v1/nope", "/api/portal/v1/x/y", "/api/"]
)
def test_unknown_api_paths_are_problem_404s(client, settings, db, debug, method, path):
    settings.DEBUG = debug
    response = getattr(client, method)(path, headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response["Content-Type"] == CONTENT_TYPE
    body = response.json()
    assert body["status"] == 404 and body["type"].endswith("/not-found")
    assert b"urlpatterns" not in response.content and b"<html" not in response.content


@pytest.mark.parametrize("debug", [True, False])
def test_root_is_a_landing_page(client, settings, db, debug):
    settings.DEBUG = debug
    response = client.get("/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    for link in ('href="/portal/"', 'href="/api/docs/"', 'href="/admin/"'):
        assert link in page


def test_a_post_to_an_unknown_api_path_is_a_404_not_a_csrf_page(db):
    from django.test import Client

    # API clients send no CSRF cookie: the answer must still be the API's 404 problem, not
    # Django's HTML 403 (schemathesis found it with a malformed id in a portal path).
    response = Client(enforce_csrf_checks=True).post(
        "/api/portal/v1/api-keys/null,null/revoke", data="{}", content_type="application/json"
    )
    assert response.status_code == 404
    assert response["Content-Type"] == CONTENT_TYPE
