"""The admin at a glance: the operations panel on the index (from per-minute rollups), Resume
buttons, the deliveries and events lists, the pause form; checked with the test client and in
Chromium (screenshots on failure: tests/fixtures/browser.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from core.jobs import periodic_jobs
from outbox.models import Attempt, Delivery, DeliveryStatus, OutboxPause
from outbox.services import outbox_pause, webhook_endpoint_create
from platform_ops.rollups import minute_key, minutes_read, outbox_rollup
from tests.factories import make_customer, make_merchant


@pytest.fixture
def shop(db):
    setup = make_merchant("Shop")
    url = "http://127.0.0.1:9/a-rather-long-webhook-path/for/the/merchant/integration/hook"
    endpoint, _ = webhook_endpoint_create(merchant=setup.merchant, url=url)
    customers = [make_customer(setup.merchant) for _ in range(3)]  # customer.created each
    deliveries = list(Delivery.objects.order_by("id"))
    now = timezone.now()
    for delivery, code in zip(deliveries, (200, 500, None), strict=True):
        Attempt.objects.create(
            delivery=delivery, started_at=now, duration_ms=5, status_code=code,
            error_class="" if code else "ConnectTimeout",
        )
    first, second, _ = deliveries
    Delivery.objects.filter(id=first.id).update(status=DeliveryStatus.DELIVERED, delivered_at=now)
    Delivery.objects.filter(id=second.id).update(
        status=DeliveryStatus.DEAD, last_status_code=500, last_error="HTTP 500 " + "x" * 300
    )
    return setup.merchant, endpoint, customers, deliveries


@pytest.fixture(autouse=True)
def _no_rollups_of_other_tests():
    """The rollups live in the shared cache: each test starts without any."""
    cache.delete_many([minute_key(m) for m in _recent_minutes()])
    yield
    cache.delete_many([minute_key(m) for m in _recent_minutes()])


def _recent_minutes():
    now = timezone.now().replace(second=0, microsecond=0)
    return [now - timedelta(minutes=n) for n in range(-2, 24 * 60 + 2)]


def test_the_rollup_is_a_relay_job_and_counts_one_minute(shop):
    assert "outbox_rollup" in [job.name for job in periodic_jobs()]
    assert outbox_rollup() == 2
    rows = minutes_read()
    assert len(rows) == 2
    row = rows[-1]
    assert (row["delivered"], row["failed"], row["errors"]) == (1, 1, 1)
    assert row["backlog"]["webhook"] == {"pending": 1, "leased": 0, "dead": 1}
    assert row["backlog"]["telegram"] == {"pending": 0, "leased": 0, "dead": 0}
    assert row["oldest_pending_at"] is not None
    outbox_rollup()  # idempotent: the same minutes rewritten, not added
    assert len(minutes_read()) == 2
    # A minute that is over keeps its backlog; the next run counts the new minute.
    later = timezone.now() + timedelta(minutes=1)
    Delivery.objects.filter(status=DeliveryStatus.PENDING).update(status=DeliveryStatus.CANCELLED)
    outbox_rollup(now=later)
    by_minute = {int(r["minute"]): r for r in minutes_read(now=later)}
    newest = by_minute[max(by_minute)]
    assert newest["backlog"]["webhook"]["pending"] == 0 and newest["oldest_pending_at"] is None
    assert by_minute[int(row["minute"])]["backlog"]["webhook"]["pending"] == 1


def test_the_index_panel_reads_rollups_not_the_delivery_tables(admin_client, shop):
    merchant, *_ = shop
    outbox_pause(reason="merchant asked", actor="cli:ops", merchant_id=str(merchant.id))
    outbox_rollup()
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get("/admin/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="ops-panel"' in text and "merchant asked" in text
    assert '<tr class="ops-channel-webhook"><th>webhook</th><td class="pending">1</td>' in text
    assert '<td class="dead">1</td>' in text
    assert "Oldest pending: " in text and "Oldest pending: none" not in text
    assert "uplot-1.6.32/uPlot.iife.min.js" in text and "//cdn" not in text
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "outbox_delivery" not in sql and "outbox_attempt" not in sql


def test_resume_button_ends_one_pause(admin_client, shop):
    merchant, *_ = shop
    pause = outbox_pause(reason="hold", actor="cli:ops", merchant_id=str(merchant.id))
    url = f"/admin/outbox/outboxpause/{pause.pk}/resume/"
    assert admin_client.get(url).status_code == 405
    answer = admin_client.post(url)
    assert answer.status_code == 302 and answer["Location"] == "/admin/"
    pause.refresh_from_db()
    assert pause.resumed_at is not None and pause.resumed_by == "admin:admin"
    again = admin_client.post(url, follow=True)
    assert b"had already ended" in again.content


def test_lists_show_status_summary_last_code_and_no_next_attempt_when_done(admin_client, shop):
    _, _, _, deliveries = shop
    events = admin_client.get("/admin/outbox/outboxevent/").content.decode()
    assert "1 delivered" in events and "1 dead" in events and "1 pending" in events
    page = admin_client.get("/admin/outbox/delivery/?status__exact=delivered")
    row = page.context["cl"].result_list[0]
    admin = page.context["cl"].model_admin
    assert row.id == deliveries[0].id and row.last_status_code is None
    assert admin.last_code(row) == "200"  # from its attempt
    assert admin.next_attempt(row) == "-"
    pending = admin_client.get("/admin/outbox/delivery/?status__exact=pending")
    prow = pending.context["cl"].result_list[0]
    assert pending.context["cl"].model_admin.next_attempt(prow) != "-"
    detail = admin_client.get(f"/admin/outbox/delivery/{deliveries[0].id}/change/").content
    assert b"200" in detail


@pytest.fixture
def signed_in(live_server, browser, db):
    User.objects.create_superuser("ops", "ops@example.com", "a-long-password-1")
    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("ops")
    browser.find_element(By.NAME, "password").send_keys("a-long-password-1")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda b: "Log in" not in b.title)
    return browser


@pytest.mark.django_db(transaction=True)
def test_panel_charts_resume_list_width_and_pause_form_in_chromium(live_server, signed_in, shop):
    browser = signed_in
    merchant, *_ = shop
    outbox_pause(reason="merchant asked", actor="cli:ops", merchant_id=str(merchant.id))
    outbox_rollup()
    browser.get(f"{live_server.url}/admin/")
    panel = browser.find_element(By.ID, "ops-panel")
    assert "merchant asked" in panel.text
    WebDriverWait(browser, 10).until(
        lambda b: len(b.find_elements(By.CSS_SELECTOR, "#ops-panel .uplot canvas")) == 2
    )
    assert browser.execute_script("return window.opsCharts.length") == 2
    panel.find_element(By.CSS_SELECTOR, "form.ops-resume button").click()
    WebDriverWait(browser, 10).until(lambda b: "None: delivery flows." in b.page_source)
    assert OutboxPause.objects.get().resumed_at is not None

    # The deliveries list fits the 1400 px window: no horizontal scrolling, status visible.
    browser.get(f"{live_server.url}/admin/outbox/delivery/")
    width = browser.execute_script("return document.documentElement.scrollWidth")
    viewport = browser.execute_script("return window.innerWidth")
    assert viewport <= 1400 and width <= viewport, (width, viewport)
    headers = [h.text.lower() for h in browser.find_elements(By.CSS_SELECTOR, "#result_list th")]
    for column in ("status", "attempts", "next attempt", "last code"):
        assert any(column in h for h in headers), headers
    for cell in browser.find_elements(By.CSS_SELECTOR, "#result_list td.field-next_attempt"):
        assert cell.rect["x"] + cell.rect["width"] <= viewport

    # The pause form shows only the chosen scope's field.
    browser.get(f"{live_server.url}/admin/outbox/outboxpause/add/")

    def shown(name: str) -> bool:
        return browser.find_element(By.CSS_SELECTOR, f".field-{name}").is_displayed()

    scope = Select(browser.find_element(By.ID, "id_scope"))
    for choice, visible in (
        ("global", set()),
        ("merchant", {"merchant"}),
        ("endpoint", {"endpoint"}),
        ("channel", {"channel"}),
    ):
        scope.select_by_value(choice)
        assert {n for n in ("merchant", "endpoint", "channel") if shown(n)} == visible, choice
        assert shown("reason")
