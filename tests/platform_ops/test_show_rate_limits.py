"""``show_rate_limits`` against the real limiter in Redis and real Attempt rows."""

from __future__ import annotations

import json
import os
import time
from io import StringIO

import pytest
import redis
from django.core.management import CommandError, call_command
from django.utils import timezone

from notifications.limiter import send_rate_limiter
from outbox.models import Attempt, Delivery
from outbox.services import webhook_endpoint_create
from tests.factories import make_customer, make_merchant

BOT = "777000"


@pytest.fixture
def limiter_keys():
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    yield
    keys = list(client.scan_iter(f"tg:rl:{BOT}:*"))
    if keys:
        client.delete(*keys)


def _run(*args: str) -> str:
    out = StringIO()
    call_command("show_rate_limits", *args, stdout=out)
    return out.getvalue()


def test_shows_the_limiter_and_recent_429s(db, receiver, limiter_keys):
    limiter = send_rate_limiter()
    ticket = limiter.acquire(bot=BOT, chat_id=9, deadline=time.monotonic() + 5)
    limiter.release(ticket)
    limiter.hold_chat(bot=BOT, chat_id=9, seconds=30)  # as after a 429 with retry_after 30
    setup = make_merchant("Shop")
    webhook_endpoint_create(merchant=setup.merchant, url=receiver.url)
    make_customer(setup.merchant)
    delivery = Delivery.objects.get()
    Attempt.objects.create(
        delivery=delivery, started_at=timezone.now(), duration_ms=3, status_code=429
    )

    report = json.loads(_run("--json"))
    assert report["rate_limit_mode"] == "normal"
    [bot] = [b for b in report["limiter"]["bots"] if b["bot"] == BOT]
    [chat] = bot["waiting_chats"]
    assert chat["chat_id"] == "9" and 20 < chat["next_slot_in_seconds"] <= 30
    assert report["recent_429"]["by_channel"] == {"webhook": 1}
    [latest] = report["recent_429"]["latest"]
    assert latest["target"] == str(delivery.endpoint_id)

    text = _run()
    assert f"bot {BOT}:" in text and "chat 9: next slot in" in text
    assert "429 answers in the last 15 min: webhook 1" in text


def test_bad_options_are_one_line(db):
    with pytest.raises(CommandError) as failed:
        _run("--minutes", "0")
    assert str(failed.value) == "--minutes must be at least 1 and --chats not negative"
