"""The transport interface: the one Retry-After parser, the channel registry, the one Bot API
client against the fake Bot API, and how the engine maps a receiver's answers (real loopback
receiver, the engine run in-process)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.utils import timezone

from notifications.transport import TelegramTransport
from outbox.engine import deliveries_process, send_pool
from outbox.models import Attempt, Channel, Delivery, DeliveryStatus
from outbox.relay import deliveries_claim
from outbox.services import webhook_endpoint_create
from outbox.transports import (
    RETRY_AFTER_CAP,
    PermanentError,
    TargetGone,
    Throttled,
    TransportError,
    parse_retry_after,
    transport_for,
)
from outbox.transports.telegram import BotApi
from outbox.transports.webhook import WebhookTransport, webhook_send
from tests.factories import make_customer, make_merchant
from tests.fakes.telegram_bot_api import FakeBotApi

TOKEN = "424242:client-test-SECRET-part"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        ("1.5", 1.5),
        (3, 3.0),
        (0.25, 0.25),
        ("-5", 0.0),
        (str(RETRY_AFTER_CAP * 10), float(RETRY_AFTER_CAP)),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        (True, None),
        ([1], None),
    ],
)
def test_retry_after_parser(value, expected):
    assert parse_retry_after(value) == expected


def test_retry_after_parser_reads_http_dates():
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert 115 <= parse_retry_after(later) <= 120
    earlier = format_datetime(datetime.now(UTC) - timedelta(seconds=120), usegmt=True)
    assert parse_retry_after(earlier) == 0.0


def test_registry_resolves_the_configured_channels():
    assert isinstance(transport_for(Channel.WEBHOOK), WebhookTransport)
    assert isinstance(transport_for(Channel.TELEGRAM), TelegramTransport)
    assert transport_for(Channel.WEBHOOK) is transport_for(Channel.WEBHOOK)  # built once
    with pytest.raises(ImproperlyConfigured, match="OUTBOX_TRANSPORTS"):
        transport_for("carrier-pigeon")


@pytest.fixture
def bot_api(settings):
    with FakeBotApi(limits=False) as fake:
        settings.TELEGRAM_API_BASE_URL = fake.url
        yield fake


def _no_token_in(error: BaseException, caplog) -> None:
    assert TOKEN not in str(error) and TOKEN not in repr(error)
    assert isinstance(error, TransportError) and TOKEN not in error.excerpt
    for record in caplog.records:
        assert TOKEN not in record.getMessage() and TOKEN not in repr(record.__dict__)


def test_bot_api_returns_the_result(bot_api):
    me = BotApi(TOKEN).call("getMe")
    assert me["username"] == "fake424242_bot"
    assert TOKEN not in repr(BotApi(TOKEN)) and "424242" in repr(BotApi(TOKEN))


def test_bot_api_429_is_throttled_with_retry_after(bot_api, caplog):
    bot_api.force_429(1, retry_after=3, methods=["sendMessage"])
    with caplog.at_level(logging.DEBUG), pytest.raises(Throttled) as info:
        BotApi(TOKEN).call("sendMessage", {"chat_id": 1, "text": "hi"})
    assert info.value.status_code == 429 and info.value.retry_after == 3.0
    assert not info.value.permanent
    _no_token_in(info.value, caplog)


def test_bot_api_403_is_target_gone(bot_api, caplog):
    bot_api.block_chat(77)
    with caplog.at_level(logging.DEBUG), pytest.raises(TargetGone) as info:
        BotApi(TOKEN).call("sendMessage", {"chat_id": 77, "text": "hi"})
    assert info.value.status_code == 403 and info.value.permanent
    assert info.value.reason == "the user blocked the bot"
    assert "blocked" in info.value.excerpt
    _no_token_in(info.value, caplog)


def test_bot_api_other_4xx_and_5xx_are_retryable(bot_api, caplog):
    bot_api.configure(tokens=["1:other"])  # our token is unknown: 401
    with caplog.at_level(logging.DEBUG), pytest.raises(TransportError) as refused:
        BotApi(TOKEN).call("getMe")
    assert refused.value.status_code == 401 and refused.value.error_class == "Telegram401"
    assert not isinstance(refused.value, PermanentError | Throttled)
    _no_token_in(refused.value, caplog)

    bot_api.configure(tokens=None)
    bot_api.set_outage(True)
    with caplog.at_level(logging.DEBUG), pytest.raises(TransportError) as outage:
        BotApi(TOKEN).call("getMe")
    assert outage.value.status_code == 502 and not outage.value.permanent
    _no_token_in(outage.value, caplog)


def test_bot_api_network_error_has_no_status_and_no_token(bot_api, caplog):
    bot_api.set_outage(True, mode="close")
    with caplog.at_level(logging.DEBUG), pytest.raises(TransportError) as info:
        BotApi(TOKEN).call("getMe")
    assert info.value.status_code is None and not info.value.permanent
    assert info.value.__cause__ is None  # the httpx error (its URL holds the token) is dropped
    _no_token_in(info.value, caplog)


@pytest.fixture
def hooked(transactional_db, receiver, settings):
    """One webhook delivery (customer.created) leased to this test, as a relay would."""
    settings.OUTBOX_ALLOW_PRIVATE_TARGETS = True
    setup = make_merchant("Hooks")
    endpoint, _ = webhook_endpoint_create(merchant=setup.merchant, url=receiver.url)
    make_customer(setup.merchant)
    claim = deliveries_claim(batch=10, lease_seconds=60)
    assert claim is not None and len(claim.ids) == 1
    yield endpoint, claim
    send_pool(Channel.WEBHOOK).submit(connections.close_all).result()


@pytest.mark.parametrize(
    ("answer", "status", "circuit_failures", "enabled"),
    [
        ((400, {"webhook-delivery": "abort-message"}, b"no"), DeliveryStatus.DEAD, 0, True),
        ((410, {}, b"gone"), DeliveryStatus.DEAD, 1, False),
        ((500, {}, b"boom"), DeliveryStatus.PENDING, 1, True),
    ],
    ids=["abort-message", "gone", "server-error"],
)
def test_engine_maps_receiver_answers(hooked, receiver, answer, status, circuit_failures, enabled):
    endpoint, claim = hooked
    receiver.respond = lambda req, n: (*answer, 0)
    counts = deliveries_process(delivery_ids=claim.ids, lease_token=str(claim.token))
    delivery = Delivery.objects.get()
    assert delivery.status == status and delivery.attempts == 1
    assert counts == {"dead" if status == DeliveryStatus.DEAD else "retry": 1}
    assert delivery.last_status_code == answer[0]
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == circuit_failures
    assert endpoint.is_enabled is enabled
    if not enabled:
        assert endpoint.disabled_reason == "receiver answered 410 Gone"
    [attempt] = Attempt.objects.filter(delivery=delivery)
    assert attempt.status_code == answer[0] and attempt.response_excerpt == answer[2].decode()


def test_engine_waits_exactly_retry_after_of_a_503(hooked, receiver):
    endpoint, claim = hooked
    receiver.respond = lambda req, n: (503, {"Retry-After": "40"}, b"busy", 0)
    before = timezone.now()
    deliveries_process(delivery_ids=claim.ids, lease_token=str(claim.token))
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert before + timedelta(seconds=40) <= delivery.next_attempt_at
    assert delivery.next_attempt_at <= timezone.now() + timedelta(seconds=40)
    assert delivery.last_error == "HTTP503: busy"


def test_a_cookie_one_receiver_sets_is_never_sent_back(receiver, settings):
    """The pooled webhook client is shared by every merchant: a ``Set-Cookie`` from one
    endpoint must not ride along to the next send (another merchant's endpoint on the same
    domain, here the same loopback host)."""
    settings.OUTBOX_ALLOW_PRIVATE_TARGETS = True
    receiver.respond = lambda req, n: (
        200,
        {"Set-Cookie": "session=merchant-a; Path=/; Max-Age=3600"},
        b"ok",
        0,
    )
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    for n in range(2):
        webhook_send(url=receiver.url, secret=secret, message_id=f"msg_{n}", payload={"n": n})
    first, second = receiver.wait_for(2)
    assert "cookie" not in first.headers and "cookie" not in second.headers
