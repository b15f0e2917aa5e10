"""Every problem ``type`` URL is a page we serve: /docs/problems/<slug>."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from platform_ops.docs import PROBLEMS

ROOT = Path(__file__).resolve().parents[2]
APPS = ("core", "loyalty", "outbox", "integrations", "notifications", "portal", "platform_ops")


def slugs_in_code() -> set[str]:
    found: set[str] = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts or path.name == "docs.py":
                continue
            text = path.read_text()
            found |= set(re.findall(r'slug\s*=\s*"([a-z][a-z-]*)"', text))
            found |= set(re.findall(r'slug, title = "([a-z-]+)"', text))
    problems = (ROOT / "core" / "problems.py").read_text()
    found |= set(re.findall(r'\("([a-z][a-z-]+)", "[A-Z]', problems))
    return found


def test_every_slug_the_code_answers_has_a_page():
    found = slugs_in_code()
    assert {"insufficient-points", "rate-limited", "validation-error"} <= found
    assert found - set(PROBLEMS) == set()


@pytest.mark.django_db
def test_a_problem_type_resolves_to_its_page(client):
    problem = client.get("/api/integrations/v1/customers/00000000-0000-0000-0000-000000000000")
    body = problem.json()
    assert body["type"] == settings.API_BASE_URL.rstrip("/") + "/docs/problems/unauthenticated"
    page = client.get(body["type"].removeprefix(settings.API_BASE_URL.rstrip("/")))
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    text = page.content.decode()
    assert "Authentication required" in text and "Authorization: Bearer" in text
    assert not re.findall(r"(?:src|href)=\"https?://", text)
    index = client.get("/docs/problems/").content.decode()
    assert all(f"/docs/problems/{slug}" in index for slug in PROBLEMS)
    missing = client.get("/docs/problems/no-such-thing")
    assert missing.status_code == 404 and missing.json()["type"].endswith("/not-found")
