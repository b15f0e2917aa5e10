"""A real browser (Chromium, tests/fixtures/browser.py) on the Places page: a manager adds an
outlet, renames it and deactivates it and brings it back; the rows and the database agree at each step."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as until

from loyalty.models import Outlet
from portal.models import AuditEntry
from tests.portal.test_browser_walk import sign_in, wait

pytestmark = pytest.mark.slow


def _row(browser, name: str):
    rows = browser.find_elements(By.CSS_SELECTOR, "#places-outlet tbody tr")
    return next(r for r in rows if r.find_element(By.CLASS_NAME, "place-name").text == name)


def test_outlet_is_added_renamed_and_deactivated_in_the_browser(live_server, browser, staff):
    sign_in(browser, live_server.url, staff.manager.email)
    browser.find_element(By.LINK_TEXT, "Places").click()
    wait(browser).until(until.presence_of_element_located((By.ID, "places-outlet")))

    browser.find_element(By.ID, "new-outlet-name").send_keys("Riverside")
    browser.find_element(By.CSS_SELECTOR, "#place-create-outlet button").click()
    wait(browser).until(until.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "Added"))
    assert "active" in _row(browser, "Riverside").find_element(By.CLASS_NAME, "place-state").text
    outlet = Outlet.objects.get(merchant=staff.merchant, name="Riverside")

    field = _row(browser, "Riverside").find_element(
        By.CSS_SELECTOR, ".place-rename input[name=name]"
    )
    field.clear()
    field.send_keys("Quay")
    _row(browser, "Riverside").find_element(By.CSS_SELECTOR, ".place-rename button").click()
    wait(browser).until(until.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "Renamed"))
    assert _row(browser, "Quay")

    _row(browser, "Quay").find_element(By.CSS_SELECTOR, ".place-deactivate button").click()
    wait(browser).until(
        until.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "Deactivated")
    )
    row = _row(browser, "Quay")
    assert row.find_element(By.CLASS_NAME, "place-state").text == "deactivated"
    assert not row.find_elements(By.CSS_SELECTOR, ".place-rename")
    outlet.refresh_from_db()
    assert outlet.name == "Quay" and not outlet.is_active

    _row(browser, "Quay").find_element(By.CSS_SELECTOR, ".place-reactivate button").click()
    wait(browser).until(
        until.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "Reactivated")
    )
    assert _row(browser, "Quay").find_element(By.CLASS_NAME, "place-state").text == "active"
    outlet.refresh_from_db()
    assert outlet.is_active
    actions = AuditEntry.objects.filter(object_id=str(outlet.id)).values_list("action", flat=True)
    assert sorted(actions) == [
        "outlet.create",
        "outlet.deactivate",
        "outlet.reactivate",
        "outlet.rename",
    ]
    logs = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not logs, logs
