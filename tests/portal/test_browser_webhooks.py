"""A real browser (Chromium via Selenium, tests/fixtures/browser.py) on the webhook pages:
create an endpoint pointing at the loopback receiver, send a test event and see it in the log
with its attempt and request, rotate the secret with an overlap and see two signatures arrive.
Delivery runs the outbox engine in this process, as the portal's other browser tests do."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as until
from standardwebhooks import Webhook

from tests.portal.conftest import deliver_due
from tests.portal.test_browser_walk import sign_in, wait

pytestmark = pytest.mark.slow


def send_test_event(browser) -> None:
    browser.find_element(By.CSS_SELECTOR, "button.send-test").click()
    wait(browser).until(until.url_contains("/portal/webhooks/deliveries/"))
    assert deliver_due() == 1
    browser.refresh()
    wait(browser).until(
        until.text_to_be_present_in_element((By.ID, "delivery-status"), "delivered")
    )


def test_test_event_and_rotation_with_two_signatures(live_server, browser, setup, staff, receiver):
    base = live_server.url
    sign_in(browser, base, staff.owner.email)
    browser.get(f"{base}/portal/webhooks")
    browser.find_element(By.ID, "url").send_keys(receiver.url)
    browser.find_element(By.CSS_SELECTOR, "#endpoint-create button").click()
    old = wait(browser).until(lambda b: b.find_element(By.ID, "secret")).text
    assert old.startswith("whsec_")

    # Send a test event: the browser lands on its log entry, which shows the attempt.
    send_test_event(browser)
    assert "webhook.test" in browser.find_element(By.TAG_NAME, "h1").text
    attempts = browser.find_element(By.ID, "attempts")
    assert "200" in attempts.text
    request = attempts.find_element(By.CSS_SELECTOR, ".request-headers").get_attribute(
        "textContent"
    )
    first = receiver.wait_for(1)[0]
    assert first.headers["webhook-signature"] in request
    assert Webhook(old).verify(first.body, first.headers)["type"] == "webhook.test"

    # Rotate with the default overlap: the page shows the new secret and until when the old
    # one still signs; the next message carries both signatures.
    browser.get(f"{base}/portal/webhooks")
    overlap = browser.find_element(By.NAME, "overlap_hours")
    assert overlap.get_attribute("value") == "24"
    overlap.find_element(By.XPATH, "./ancestor::form//button").click()
    wait(browser).until(lambda b: b.find_element(By.ID, "previous-until"))
    new = browser.find_element(By.ID, "secret").text
    assert new.startswith("whsec_") and new != old
    browser.get(f"{base}/portal/webhooks")
    send_test_event(browser)
    (_, second) = receiver.wait_for(2)
    assert len(second.headers["webhook-signature"].split(" ")) == 2
    assert Webhook(new).verify(second.body, second.headers)
    assert Webhook(old).verify(second.body, second.headers)
    logs = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert logs == []
