"""/api/docs/ works air-gapped: Swagger UI comes from drf-spectacular-sidecar, served by the app."""

from __future__ import annotations

import re

import httpx
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

EXTERNAL = re.compile(r"""(?:src|href|url)\s*[=:(]\s*["']?\s*(?:https?:)?//""", re.I)


def test_docs_page_references_no_external_url(live_server):
    page = httpx.get(f"{live_server.url}/api/docs/", timeout=10)
    assert page.status_code == 200
    html = page.text
    assert "cdn.jsdelivr.net" not in html and "@latest" not in html
    assert not re.findall(r"https?://", html), re.findall(r"https?://\S+", html)
    assert not EXTERNAL.search(html)
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert any("swagger-ui-bundle" in a for a in assets), assets
    for asset in assets:
        assert asset.startswith("/"), asset  # same origin
        answer = httpx.get(f"{live_server.url}{asset}", timeout=10)
        assert answer.status_code == 200, asset


def test_swagger_ui_renders_offline_in_a_real_browser(live_server, browser):
    browser.get(f"{live_server.url}/api/docs/")
    WebDriverWait(browser, 20).until(
        ec.text_to_be_present_in_element(
            (By.CSS_SELECTOR, ".swagger-ui .info .title"), "Loyalty platform integration API"
        )
    )
    operations = browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    paths = {op.text.replace("\u200b", "") for op in operations}
    assert "/api/integrations/v1/purchases" in paths, paths
