"""A real-browser walk through the portal (Debian's Chromium via Selenium, tests/fixtures/
browser.py): what a member of staff does, page by page, against a live server."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import WebDriverWait
from standardwebhooks import Webhook

from loyalty.services import purchase_commit
from outbox.models import Delivery, DeliveryStatus
from tests.factories import make_customer
from tests.portal.conftest import PASSWORD, deliver_due

pytestmark = pytest.mark.slow


def wait(browser: WebDriver, seconds: float = 15) -> WebDriverWait:
    return WebDriverWait(browser, seconds)


def sign_in(browser: WebDriver, base: str, email: str) -> None:
    browser.get(f"{base}/portal/")
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
    wait(browser).until(until.text_to_be_present_in_element((By.ID, "who"), email))


def test_walk_through_the_portal(live_server, browser, setup, staff, receiver):
    receiver.respond = lambda req, n: (
        (500, {}, b"down for a moment", 0) if n == 1 else (200, {}, b"ok", 0)
    )
    customer = make_customer(setup.merchant, phone="+79160000001")
    purchase_commit(
        merchant=setup.merchant,
        customer_id=customer.id,
        amount_minor=120_00,
        order_id="W-1",
        outlet_id=setup.outlet.id,
    )
    base = live_server.url

    # Sign in; the tokens sit in HttpOnly cookies no script can read.
    sign_in(browser, base, staff.owner.email)
    cookies = {c["name"]: c for c in browser.get_cookies()}
    assert cookies["portal_refresh"]["httpOnly"] and cookies["portal_access"]["httpOnly"]
    assert "portal_refresh" not in browser.execute_script("return document.cookie")

    # The dashboard draws its three charts (Chart.js, vendored) from the page's data.
    wait(browser).until(
        lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-charts") == "3"
    )
    assert browser.execute_script("return window.portalCharts.length") == 3
    today = browser.find_element(By.CSS_SELECTOR, "#figures tbody tr").text
    assert "12000" in today  # revenue of today's purchase, in minor units
    logs = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not logs, logs  # no CSP violation, no script error

    # Find the customer by phone and adjust their points.
    browser.find_element(By.LINK_TEXT, "Customers").click()
    browser.find_element(By.ID, "q").send_keys("+7 916 000-00-01")
    browser.find_element(By.CSS_SELECTOR, "#customer-search button").click()
    wait(browser).until(until.url_contains("q="))  # the list before the search has the link too
    browser.find_element(By.LINK_TEXT, "+79160000001").click()
    assert browser.find_element(By.ID, "balance").text == "6"  # 5 % of 120.00
    browser.find_element(By.ID, "points").send_keys("25")
    browser.find_element(By.ID, "reason").send_keys("birthday gift")
    browser.find_element(By.CSS_SELECTOR, "#adjust button").click()
    wait(browser).until(
        until.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "adjusted")
    )
    assert browser.find_element(By.ID, "balance").text == "31"
    assert "birthday gift" in browser.find_element(By.ID, "ledger").text

    # Refund part of the purchase from its page.
    browser.find_element(By.LINK_TEXT, "Purchases").click()
    browser.find_element(By.ID, "order_id").send_keys("W-1")
    browser.find_element(By.CSS_SELECTOR, "#purchase-filter button").click()
    wait(browser).until(until.url_contains("order_id=W-1"))  # else W-1 of the unfiltered list
    browser.find_element(By.LINK_TEXT, "W-1").click()
    browser.find_element(By.ID, "amount_minor").send_keys("2000")
    browser.find_element(By.CSS_SELECTOR, "#refund button").click()
    wait(browser).until(until.text_to_be_present_in_element((By.ID, "refunded"), "2000"))
    assert "2000" in browser.find_element(By.ID, "refunds").text

    # Create a webhook endpoint; its secret is shown once.
    browser.find_element(By.LINK_TEXT, "Webhooks").click()
    browser.find_element(By.ID, "url").send_keys(receiver.url)
    browser.find_element(By.CSS_SELECTOR, "input[value='purchase.refunded']").click()
    browser.find_element(By.CSS_SELECTOR, "#endpoint-create button").click()
    secret = wait(browser).until(lambda b: b.find_element(By.ID, "secret")).text
    assert secret.startswith("whsec_")
    assert receiver.url in browser.find_element(By.ID, "endpoints").text

    # A refund's webhook fails once: the log shows the delivery and its attempt.
    purchase_commit(
        merchant=setup.merchant,
        customer_id=customer.id,
        amount_minor=10_00,
        order_id="W-2",
        outlet_id=setup.outlet.id,
    )
    from loyalty.services import refund_create

    refund_create(merchant=setup.merchant, order_id="W-2")
    assert deliver_due() == 1
    browser.find_element(By.ID, "delivery-log-link").click()
    row = browser.find_element(By.CSS_SELECTOR, "#deliveries tbody tr")
    assert "purchase.refunded" in row.text and "500" in row.text
    row.find_element(By.TAG_NAME, "a").click()
    assert "down for a moment" in browser.find_element(By.ID, "attempts").text
    assert '"order_id": "W-2"' in browser.find_element(By.ID, "payload").text

    # It went dead; replay it from its page and it arrives, verifiable with the secret.
    Delivery.objects.update(status=DeliveryStatus.DEAD)
    browser.refresh()
    browser.find_element(By.CSS_SELECTOR, "#replay button").click()
    wait(browser).until(until.text_to_be_present_in_element((By.ID, "delivery-status"), "pending"))
    assert deliver_due() == 1
    assert Webhook(secret).verify(receiver.requests[-1].body, receiver.requests[-1].headers)
    browser.refresh()
    assert browser.find_element(By.ID, "delivery-status").text == "delivered"

    # Create an API key (shown once) and revoke it.
    browser.find_element(By.LINK_TEXT, "API keys").click()
    browser.find_element(By.ID, "key-name").send_keys("till 1")
    browser.find_element(By.CSS_SELECTOR, "#api-key-create button").click()
    key = wait(browser).until(lambda b: b.find_element(By.ID, "new-key")).text
    assert key.startswith("lk_") and "active" in browser.find_element(By.ID, "api-keys").text
    browser.find_element(By.CSS_SELECTOR, "#api-keys button.revoke").click()
    wait(browser).until(until.text_to_be_present_in_element((By.ID, "api-keys"), "revoked"))

    # Raise the earn rate in the program settings.
    browser.find_element(By.LINK_TEXT, "Program").click()
    rate = browser.find_element(By.ID, "earn_bps")
    rate.clear()
    rate.send_keys("700")
    browser.find_element(By.CSS_SELECTOR, "#program button").click()
    wait(browser).until(until.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "saved"))
    assert browser.find_element(By.ID, "earn_bps").get_attribute("value") == "700"

    # Give a colleague read-only access; the audit trail shows who did what.
    browser.find_element(By.LINK_TEXT, "Staff").click()
    browser.find_element(By.ID, "new-email").send_keys("cashier@cafe.test")
    browser.find_element(By.ID, "new-password").send_keys("a long password")
    browser.find_element(By.CSS_SELECTOR, "#new-role option[value=viewer]").click()
    browser.find_element(By.CSS_SELECTOR, "#staff-create button").click()
    wait(browser).until(until.text_to_be_present_in_element((By.ID, "staff"), "cashier@cafe.test"))
    audit = browser.find_element(By.ID, "audit").text
    assert "staff.create" in audit and "program.update" in audit and "points.adjust" in audit

    # Switch language to Russian and back.
    browser.find_element(By.LINK_TEXT, "Dashboard").click()
    browser.find_element(By.ID, "lang-ru").click()
    wait(browser).until(until.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Панель"))
    browser.find_element(By.ID, "lang-en").click()
    wait(browser).until(until.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Dashboard"))

    # Sign out: the sign-in form comes back.
    browser.find_element(By.ID, "sign-out").click()
    wait(browser).until(until.presence_of_element_located((By.ID, "login")))
