"""Alerts: per-minute counters fed by the real middleware, thresholds, cooldown and fingerprint
dedupe, sent over HTTP to the fake Telegram Bot API."""

from __future__ import annotations

import logging
import time

import pytest
from django.test import Client

from outbox.models import Delivery, DeliveryStatus
from platform_ops.alert_counters import HTTP_5XX, HTTP_SLOW, counter_bump, counter_read, minute_of
from platform_ops.alerts import NOT_CONFIGURED, alerts_check
from platform_ops.models import Alert
from tests.factories import make_customer, make_merchant
from tests.fakes.telegram_bot_api import FakeBotApi

TOKEN = "123456:alerts-test-token"
CHAT = "4242"


@pytest.fixture
def fake_bot():
    with FakeBotApi(limits=False) as fake:
        yield fake


@pytest.fixture
def alerting(settings, fake_bot, db):
    settings.TELEGRAM_API_BASE_URL = fake_bot.url
    settings.ALERT_TELEGRAM_BOT_TOKEN = TOKEN
    settings.ALERT_TELEGRAM_CHAT_ID = CHAT
    settings.ALERT_HTTP_5XX_PER_MIN = 3
    settings.ALERT_HTTP_SLOW_PER_MIN = 2
    settings.ALERT_OUTBOX_DEAD_DELTA = 2
    settings.ALERT_COOLDOWN_SECONDS = 900
    return fake_bot


def minute_start(offset: int = 0) -> float:
    """The start of a minute in the recent past (a fresh bucket per test)."""
    return (minute_of(time.time()) - 10 + offset) * 60.0


def bump(kind: str, times: int, at: float) -> None:
    for _ in range(times):
        counter_bump(kind, at=at + 1)


def check_after(minute: float) -> list[Alert]:
    """alerts_check as it runs during the following minute."""
    return alerts_check(now=minute + 60 + 5)


def test_middleware_counts_5xx_and_slow_but_not_operations(settings, db):
    settings.ROOT_URLCONF = "tests.platform_ops.urls"
    settings.ALERT_HTTP_SLOW_THRESHOLD_MS = 200
    settings.ALERTS_5XX_SAMPLE_RATE = 0.0
    client = Client(raise_request_exception=False)

    def counted() -> tuple[int, int]:
        # The minute may turn during the test: look at this bucket and the next.
        minute = minute_of(time.time())
        return tuple(
            sum(counter_read(kind, m) for m in (minute - 1, minute, minute + 1))
            for kind in (HTTP_5XX, HTTP_SLOW)
        )

    client.get("/test/slow", {"s": "0"})  # warm up (URL loading on the first request)
    before = counted()
    for _ in range(2):
        assert client.get("/test/boom").status_code == 500
    assert client.get("/test/slow", {"s": "0.25"}).status_code == 200
    assert client.get("/test/slow", {"s": "0"}).status_code == 200
    assert client.get("/live").status_code == 200
    after = counted()
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)


def test_5xx_sample_has_context_but_no_secrets(settings, db, caplog):
    settings.ROOT_URLCONF = "tests.platform_ops.urls"
    settings.ALERTS_5XX_SAMPLE_RATE = 1.0
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "cookie-secret-value"
    with caplog.at_level(logging.WARNING, logger="platform_ops.alert_counters"):
        client.get(
            "/test/boom?phone=%2B79161234567&card=4111111111111111",
            headers={
                "Authorization": "Bearer lk_abc_secret",
                "X-Api-Key": "lk_abc_secret",
                "User-Agent": "till/1.0 (+7 916 123-45-67)",
                "X-Request-ID": "req-77",
            },
        )
    [record] = [r for r in caplog.records if r.getMessage() == "http 5xx sample"]
    sample = record.sample
    assert sample["method"] == "GET" and sample["route"] == "/test/boom"
    assert sample["status"] == 500 and sample["request_id"] == "req-77"
    assert sample["duration_ms"] >= 0 and sample["user_agent"].startswith("till/1.0")
    flat = repr(sample)
    for secret in (
        "lk_abc_secret",
        "cookie-secret-value",
        "79161234567",
        "916 123-45-67",
        "4111111111111111",
        "phone=",
    ):
        assert secret not in flat


def test_threshold_sends_once_per_fingerprint_inside_the_cooldown(alerting):
    first = minute_start()
    bump(HTTP_5XX, 2, first)  # below the threshold of 3
    assert check_after(first) == []
    second = minute_start(1)
    bump(HTTP_5XX, 4, second)
    [alert] = check_after(second)
    assert (
        alert.delivered and alert.kind == "http_5xx" and alert.value == 4 and alert.threshold == 3
    )
    [message] = alerting.wait_for_messages(1, timeout=5)
    assert message.chat_id == int(CHAT) and "4 HTTP 5xx responses" in message.text
    assert "threshold 3/min" in message.text

    third = minute_start(2)
    bump(HTTP_5XX, 5, third)
    assert check_after(third) == []  # same fingerprint, inside the cooldown: not sent again
    alert.refresh_from_db()
    assert alert.suppressed == 1
    assert len(alerting.messages()) == 1

    # Once the cooldown is over, the same condition is sent again.
    Alert.objects.filter(id=alert.id).update(sent_at=alert.sent_at.replace(year=2000))
    fourth = minute_start(3)
    bump(HTTP_5XX, 3, fourth)
    [again] = check_after(fourth)
    assert again.delivered and again.fingerprint == alert.fingerprint
    assert len(alerting.wait_for_messages(2, timeout=5)) == 2


def test_each_condition_has_its_own_fingerprint_and_a_minute_is_checked_once(alerting):
    minute = minute_start()
    bump(HTTP_5XX, 3, minute)
    bump(HTTP_SLOW, 2, minute)
    alerts = check_after(minute)
    assert sorted(a.kind for a in alerts) == ["http_5xx", "http_slow"]
    assert len({a.fingerprint for a in alerts}) == 2
    assert check_after(minute) == []  # evaluated already (e.g. by another relay)
    assert len(alerting.wait_for_messages(2, timeout=5)) == 2
    slow_text = next(m.text for m in alerting.messages() if "slower than" in m.text)
    assert "2 HTTP requests slower than" in slow_text


def test_dead_deliveries_growth(alerting, settings):
    settings.OUTBOX_ALLOW_PRIVATE_TARGETS = True
    from outbox.services import webhook_endpoint_create

    setup = make_merchant("Dead shop")
    webhook_endpoint_create(merchant=setup.merchant, url="http://127.0.0.1:9/hook")
    for _ in range(4):
        make_customer(setup.merchant)
    minute = minute_start()
    assert check_after(minute) == []  # first check: the baseline
    ids = list(Delivery.objects.values_list("id", flat=True))
    Delivery.objects.filter(id=ids[0]).update(status=DeliveryStatus.DEAD)
    assert check_after(minute_start(1)) == []  # +1 < 2
    Delivery.objects.filter(id__in=ids[1:3]).update(status=DeliveryStatus.DEAD)
    [alert] = check_after(minute_start(2))
    assert alert.kind == "outbox_dead" and alert.value == 2
    assert "3 dead in total" in alerting.wait_for_messages(1, timeout=5)[0].text


def test_failed_send_is_recorded_and_retried_next_check(alerting):
    alerting.set_outage(True)
    minute = minute_start()
    bump(HTTP_5XX, 3, minute)
    [failed] = check_after(minute)
    assert not failed.delivered and failed.error.startswith("HTTP 502")
    alerting.set_outage(False)
    later = minute_start(1)
    bump(HTTP_5XX, 3, later)
    [sent] = check_after(later)  # a failed send starts no cooldown
    assert sent.delivered and sent.fingerprint == failed.fingerprint
    assert len(alerting.wait_for_messages(1, timeout=5)) == 1


def test_rate_limited_send_waits_and_retries(alerting):
    alerting.force_429(1, retry_after=1, methods=["sendMessage"])
    minute = minute_start()
    bump(HTTP_5XX, 3, minute)
    started = time.monotonic()
    [alert] = check_after(minute)
    assert alert.delivered and time.monotonic() - started >= 0.9
    assert len(alerting.wait_for_messages(1, timeout=5)) == 1


def test_not_configured_is_recorded_without_calling_telegram(alerting, settings):
    settings.ALERT_TELEGRAM_BOT_TOKEN = None
    minute = minute_start()
    bump(HTTP_5XX, 3, minute)
    [alert] = check_after(minute)
    assert not alert.delivered and alert.error == NOT_CONFIGURED
    assert alerting.request_log() == []
    later = minute_start(1)
    bump(HTTP_5XX, 3, later)
    assert check_after(later) == []  # counts for the cooldown: no row per minute
