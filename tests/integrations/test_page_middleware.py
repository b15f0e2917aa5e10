"""core.page_middleware: sessions, users and messages for the pages, none for the machine APIs."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core import checks

from tests.integrations.api_client import client_for

pytestmark = pytest.mark.django_db


def test_the_integration_api_gets_no_session_user_or_messages(key):
    client = client_for(key)
    client.cookies[settings.SESSION_COOKIE_NAME] = "a-browser-cookie"
    response = client.get("/api/integrations/v1/customers/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404  # answered by the API, as before
    request = response.wsgi_request
    assert not hasattr(request, "session")
    assert not hasattr(request, "_messages")
    assert not hasattr(request, "auser")
    assert "Cookie" not in response.get("Vary", "")


def test_the_pages_still_get_them(client):
    response = client.get("/portal/login")
    request = response.wsgi_request
    assert hasattr(request, "session") and hasattr(request, "_messages")
    assert request.user.is_anonymous


def test_the_admin_accepts_the_subclasses():
    errors = [e for e in checks.run_checks() if e.id and e.id.startswith("admin.")]
    assert errors == []
