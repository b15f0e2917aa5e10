"""The real browser works here: it loads a page the app serves and runs its script."""

from __future__ import annotations

from selenium.webdriver.common.by import By


def test_the_browser_renders_the_admin_sign_in_page(live_server, browser):
    browser.get(f"{live_server.url}/admin/login/")
    assert "Log in" in browser.title
    assert browser.find_element(By.NAME, "username").is_displayed()
