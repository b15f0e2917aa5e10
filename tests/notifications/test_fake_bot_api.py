"""Tests of the fake Telegram Bot API server, over real HTTP (httpx and python-telegram-bot)."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import telegram
from telegram.error import Forbidden, NetworkError, RetryAfter

from tests.fakes.telegram_bot_api import FakeBotApi

TOKEN = "123456:TEST-token"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    """The fake with Telegram's real defaults (1 msg/s per chat, 30 msg/s per token)."""
    with FakeBotApi() as server:
        yield server


@pytest.fixture
def fast() -> Iterator[FakeBotApi]:
    """The fake with a 0.5 s window, for quick rate-limit tests."""
    with FakeBotApi(window=0.5) as server:
        yield server


@pytest.fixture
def client(fake: FakeBotApi) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, timeout=5) as http:
        yield http


def send(http: httpx.Client, chat_id: int, text: str = "hi", **extra: object) -> httpx.Response:
    return http.post(f"/bot{TOKEN}/sendMessage", json={"chat_id": chat_id, "text": text, **extra})


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def max_in_any_window(stamps: list[float], window: float) -> int:
    stamps = sorted(stamps)
    best = 0
    for i, start in enumerate(stamps):
        best = max(best, sum(1 for t in stamps[i:] if t < start + window))
    return best


# --------------------------------------------------------------------------- basics


def test_get_me_over_get_and_post(fake: FakeBotApi, client: httpx.Client) -> None:
    for response in (client.get(f"/bot{TOKEN}/getMe"), client.post(f"/bot{TOKEN}/getMe")):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["ok"] is True
        assert body["result"]["id"] == 123456
        assert body["result"]["is_bot"] is True
        assert body["result"]["username"]
    assert fake.url.startswith("http://127.0.0.1:")
    assert fake.base_url == f"{fake.url}/bot"


def test_method_names_are_case_insensitive(client: httpx.Client) -> None:
    assert client.get(f"/bot{TOKEN}/getme").json()["ok"] is True


def test_send_message_is_recorded(fake: FakeBotApi, client: httpx.Client) -> None:
    markup = {"inline_keyboard": [[{"text": "Open", "url": "https://example.com"}]]}
    response = send(client, 42, "<b>Hello</b>", parse_mode="HTML", reply_markup=markup)
    assert response.status_code == 200
    message = response.json()["result"]
    assert message["message_id"] == 1
    assert message["chat"] == {
        "id": 42,
        "type": "private",
        "first_name": "Test",
        "username": None,
    }
    assert message["text"] == "<b>Hello</b>"
    assert message["from"]["is_bot"] is True
    assert message["from"]["id"] == 123456
    assert abs(message["date"] - time.time()) < 5
    assert message["reply_markup"] == markup

    [recorded] = fake.messages()
    assert recorded.token == TOKEN
    assert recorded.chat_id == 42
    assert recorded.text == "<b>Hello</b>"
    assert recorded.parse_mode == "HTML"
    assert recorded.reply_markup == markup
    assert recorded.message_id == 1
    assert recorded.monotonic <= time.monotonic()
    assert abs(recorded.wall - time.time()) < 5

    listed = client.get("/_fake/messages", params={"chat_id": 42}).json()
    assert [m["text"] for m in listed] == ["<b>Hello</b>"]
    assert listed[0]["reply_markup"] == markup
    assert client.get("/_fake/messages", params={"chat_id": 43}).json() == []
    assert len(client.get("/_fake/messages").json()) == 1


def test_message_ids_increment_per_chat() -> None:
    with FakeBotApi(limits=False) as fake, httpx.Client(base_url=fake.url) as http:
        ids = [send(http, chat).json()["result"]["message_id"] for chat in (1, 1, 2, 1, 2)]
        assert ids == [1, 2, 1, 3, 2]
        assert [m.message_id for m in fake.messages(chat_id="1")] == [1, 2, 3]


def test_form_encoded_body_and_query_params(fake: FakeBotApi, client: httpx.Client) -> None:
    markup = {"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]}
    response = client.post(
        f"/bot{TOKEN}/sendMessage",
        data={"chat_id": "7", "text": "form body", "reply_markup": json.dumps(markup)},
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"]["chat"]["id"] == 7
    response = client.get(f"/bot{TOKEN}/sendMessage", params={"chat_id": "8", "text": "query"})
    assert response.status_code == 200, response.text
    first, second = fake.messages()
    assert (first.chat_id, first.text, first.reply_markup) == (7, "form body", markup)
    assert (second.chat_id, second.text) == (8, "query")


def test_multipart_body_accepted(fake: FakeBotApi, client: httpx.Client) -> None:
    response = client.post(
        f"/bot{TOKEN}/sendMessage",
        data={"chat_id": "9", "text": "multipart"},
        files={"document": ("a.txt", b"abc")},
    )
    assert response.status_code == 200, response.text
    assert fake.messages()[0].text == "multipart"


def test_bad_requests(fake: FakeBotApi, client: httpx.Client) -> None:
    cases = [
        ({"chat_id": 1}, "Bad Request: message text is empty"),
        ({"text": "x"}, "Bad Request: chat_id is empty"),
        ({"chat_id": "@somechannel", "text": "x"}, "Bad Request: chat not found"),
        ({"chat_id": 1, "text": "x" * 4097}, "Bad Request: message is too long"),
        ({"chat_id": 1, "text": "x", "parse_mode": "bbcode"}, "unsupported parse_mode"),
    ]
    for payload, description in cases:
        response = client.post(f"/bot{TOKEN}/sendMessage", json=payload)
        assert response.status_code == 400
        body = response.json()
        assert body["ok"] is False
        assert body["error_code"] == 400
        assert description in body["description"]
    bad_json = client.post(
        f"/bot{TOKEN}/sendMessage",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert bad_json.status_code == 400
    assert fake.messages() == []


def test_unknown_method_token_and_path(client: httpx.Client) -> None:
    response = client.post(f"/bot{TOKEN}/sendTelepathy", json={})
    assert response.status_code == 404
    assert response.json() == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found: method not found",
    }
    assert client.get("/nothing/here").status_code == 404
    assert client.get("/_fake/nothing").status_code == 404

    with FakeBotApi(tokens=[TOKEN]) as fake, httpx.Client(base_url=fake.url) as http:
        assert http.get(f"/bot{TOKEN}/getMe").status_code == 200
        response = http.get("/bot999:wrong/getMe")
        assert response.status_code == 401
        assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


# --------------------------------------------------------------------------- rate limits


def test_per_chat_limit_with_real_one_second_window(fake: FakeBotApi, client: httpx.Client) -> None:
    assert send(client, 100, "first").status_code == 200
    refused = send(client, 100, "second")
    assert refused.status_code == 429
    body = refused.json()
    assert body["ok"] is False
    assert body["error_code"] == 429
    retry_after = body["parameters"]["retry_after"]
    assert isinstance(retry_after, int)
    assert retry_after == 1
    assert body["description"] == f"Too Many Requests: retry after {retry_after}"
    assert refused.headers["Retry-After"] == str(retry_after)
    # another chat is not affected by the per-chat limit
    assert send(client, 101, "other chat").status_code == 200

    time.sleep(retry_after)
    assert send(client, 100, "third").status_code == 200
    assert [m.text for m in fake.messages(chat_id=100)] == ["first", "third"]
    stats = client.get("/_fake/stats").json()
    assert stats["messages"] == 3
    assert stats["count_429"] == 1
    assert stats["max_rate_per_chat"] == 1
    assert stats["max_rate_by_chat"]["100"] == 1


def test_global_limit_with_real_thirty_per_second(fake: FakeBotApi) -> None:
    def burst(chats: range) -> list[int]:
        with httpx.Client(base_url=fake.url, timeout=5) as http:

            def one(chat: int) -> int:
                return send(http, chat).status_code

            with ThreadPoolExecutor(max_workers=10) as pool:
                return list(pool.map(one, chats))

    started = time.monotonic()
    statuses = burst(range(1, 41))
    if time.monotonic() - started < 1.0:  # the whole burst fell inside one window
        assert statuses.count(200) == 30
        assert statuses.count(429) == 10
    assert statuses.count(429) > 0
    # keep pushing for a little more than a second: the sliding window must hold throughout
    time.sleep(0.5)
    statuses += burst(range(41, 81))
    time.sleep(0.6)
    statuses += burst(range(81, 121))
    accepted = fake.messages()
    assert len(accepted) == statuses.count(200)
    assert max_in_any_window([m.monotonic for m in accepted], 1.0) <= 30
    assert len({m.chat_id for m in accepted}) == len(accepted)
    stats = fake.stats()
    assert stats["max_rate_global"] == 30
    assert stats["count_429"] == statuses.count(429) > 0


def test_small_window_limits_and_retry() -> None:
    fake = FakeBotApi(window=0.5, per_chat_per_sec=2, global_per_sec=5)
    with fake, httpx.Client(base_url=fake.start().url) as http:
        assert [send(http, 1).status_code for _ in range(3)] == [200, 200, 429]
        refused = send(http, 1)
        assert refused.json()["parameters"]["retry_after"] == 1  # never below 1
        assert [send(http, c).status_code for c in (2, 3, 4, 5)] == [200, 200, 200, 429]
        time.sleep(0.51)
        assert send(http, 1).status_code == 200
        assert fake.stats()["max_rate_per_chat"] == 2
        assert fake.stats()["max_rate_global"] == 5


def test_limits_can_be_switched_off_but_rates_are_still_observed(fast: FakeBotApi) -> None:
    with httpx.Client(base_url=fast.url) as http:
        response = http.post("/_fake/config", json={"limits": False})
        assert response.status_code == 200
        assert response.json()["limits"] is False
        assert all(send(http, 5).status_code == 200 for _ in range(10))
        stats = http.get("/_fake/stats").json()
        assert stats["count_429"] == 0
        assert stats["max_rate_per_chat"] == 10
        fast.set_limits(enabled=True)
        assert send(http, 5).status_code == 429


def test_rate_limit_is_per_token(fast: FakeBotApi) -> None:
    with httpx.Client(base_url=fast.url) as http:
        assert send(http, 1).status_code == 200
        other = http.post("/bot777:other/sendMessage", json={"chat_id": 1, "text": "x"})
        assert other.status_code == 200
        assert len(fast.messages(token="777:other")) == 1


# --------------------------------------------------------------------------- failures


def test_blocked_chat_gets_403(fake: FakeBotApi, client: httpx.Client) -> None:
    fake.block_chat(55)
    response = send(client, 55)
    assert response.status_code == 403
    assert response.json() == {
        "ok": False,
        "error_code": 403,
        "description": "Forbidden: bot was blocked by the user",
    }
    assert send(client, 56).status_code == 200
    assert client.post("/_fake/config", json={"block_chats": [57]}).status_code == 200
    assert send(client, 57).status_code == 403
    assert fake.blocked_chats == {55, 57}
    fake.unblock_chat(55)
    assert send(client, 55).status_code == 200
    assert [m.chat_id for m in fake.messages()] == [56, 55]
    assert fake.stats()["count_403"] == 2


def test_outage_502_and_recovery(fake: FakeBotApi, client: httpx.Client) -> None:
    fake.set_outage(True)
    for response in (client.get(f"/bot{TOKEN}/getMe"), send(client, 1)):
        assert response.status_code == 502
        assert response.json() == {"ok": False, "error_code": 502, "description": "Bad Gateway"}
    # control endpoints keep working during an outage
    assert client.get("/_fake/stats").json()["status_counts"]["502"] == 2
    assert client.post("/_fake/config", json={"outage": False}).status_code == 200
    assert send(client, 1).status_code == 200
    assert len(fake.messages()) == 1


def test_outage_close_mode_drops_the_connection(fake: FakeBotApi, client: httpx.Client) -> None:
    fake.set_outage(True, mode="close")
    with pytest.raises(httpx.RemoteProtocolError):
        send(client, 1)
    fake.set_outage(False)
    assert send(client, 1).status_code == 200


def test_delay_makes_requests_hang(fake: FakeBotApi, client: httpx.Client) -> None:
    client.post("/_fake/config", json={"delay": 0.5})
    with pytest.raises(httpx.ReadTimeout):
        client.get(f"/bot{TOKEN}/getMe", timeout=0.1)
    started = time.monotonic()
    assert client.get(f"/bot{TOKEN}/getMe").status_code == 200
    assert time.monotonic() - started >= 0.45
    fake.set_delay(0)
    started = time.monotonic()
    assert client.get(f"/bot{TOKEN}/getMe").status_code == 200
    assert time.monotonic() - started < 0.3


def test_forced_429(fake: FakeBotApi, client: httpx.Client) -> None:
    fake.force_429(2, retry_after=7)
    for _ in range(2):
        response = send(client, 1)
        assert response.status_code == 429
        assert response.json()["parameters"] == {"retry_after": 7}
        assert response.json()["description"] == "Too Many Requests: retry after 7"
        assert response.headers["Retry-After"] == "7"
    assert send(client, 1).status_code == 200

    spec = {"force_429": {"count": 1, "retry_after": 3, "methods": ["sendMessage"]}}
    assert client.post("/_fake/config", json=spec).status_code == 200
    assert client.get(f"/bot{TOKEN}/getMe").status_code == 200  # not a sendMessage
    assert send(client, 2).json()["parameters"]["retry_after"] == 3
    assert send(client, 2).status_code == 200
    assert fake.stats()["count_429"] == 3
    assert [m.chat_id for m in fake.messages()] == [1, 2]


# --------------------------------------------------------------------------- other methods


def test_set_webhook_is_recorded(fake: FakeBotApi, client: httpx.Client) -> None:
    response = client.post(
        f"/bot{TOKEN}/setWebhook",
        json={
            "url": "https://example.com/hook",
            "secret_token": "s3cret_-",
            "allowed_updates": ["message", "callback_query"],
            "drop_pending_updates": True,
        },
    )
    assert response.json() == {"ok": True, "result": True, "description": "Webhook was set"}
    hook = fake.webhook
    assert hook["token"] == TOKEN
    assert hook["url"] == "https://example.com/hook"
    assert hook["secret_token"] == "s3cret_-"
    assert hook["allowed_updates"] == ["message", "callback_query"]
    assert hook["drop_pending_updates"] is True
    info = client.get(f"/bot{TOKEN}/getWebhookInfo").json()["result"]
    assert info["url"] == "https://example.com/hook"
    assert info["pending_update_count"] == 0
    assert info["allowed_updates"] == ["message", "callback_query"]
    assert client.get("/_fake/webhook").json()["current"]["url"] == "https://example.com/hook"

    bad = client.post(f"/bot{TOKEN}/setWebhook", json={"url": "https://x", "secret_token": "a b"})
    assert bad.status_code == 400
    conflict = client.get(f"/bot{TOKEN}/getUpdates")
    assert conflict.status_code == 409

    deleted = client.post(f"/bot{TOKEN}/deleteWebhook", data={"drop_pending_updates": "true"})
    assert deleted.json()["result"] is True
    assert fake.webhook["url"] == ""
    assert fake.webhook["drop_pending_updates"] is True
    assert client.get(f"/bot{TOKEN}/getWebhookInfo").json()["result"]["url"] == ""
    assert client.get(f"/bot{TOKEN}/getUpdates").json() == {"ok": True, "result": []}


def test_edit_message_text_and_answer_callback_query(
    fake: FakeBotApi, client: httpx.Client
) -> None:
    message_id = send(client, 3, "old").json()["result"]["message_id"]
    edit = {"chat_id": 3, "message_id": message_id, "text": "new"}
    response = client.post(f"/bot{TOKEN}/editMessageText", json=edit)
    assert response.status_code == 200
    assert response.json()["result"]["text"] == "new"
    assert "edit_date" in response.json()["result"]
    unchanged = client.post(f"/bot{TOKEN}/editMessageText", json=edit)
    assert unchanged.status_code == 400
    assert "message is not modified" in unchanged.json()["description"]
    missing = client.post(
        f"/bot{TOKEN}/editMessageText", json={"chat_id": 3, "message_id": 99, "text": "x"}
    )
    assert missing.json()["description"] == "Bad Request: message to edit not found"
    assert fake.messages()[0].text == "old"  # the record is of what was sent

    ok = client.post(f"/bot{TOKEN}/answerCallbackQuery", data={"callback_query_id": "abc"})
    assert ok.json() == {"ok": True, "result": True}
    assert client.post(f"/bot{TOKEN}/answerCallbackQuery", json={}).status_code == 400
    assert len(fake.request_log("answerCallbackQuery")) == 2


# --------------------------------------------------------------------------- control API


def test_reset_and_config_endpoints(fake: FakeBotApi, client: httpx.Client) -> None:
    send(client, 1)
    fake.block_chat(2)
    fake.set_outage(True)
    fake.force_429(5)
    assert client.post("/_fake/config", json={"nonsense": 1}).status_code == 400
    assert client.post("/_fake/config", json={"window": -1}).status_code == 400
    assert client.post("/_fake/config", content=b"[]").status_code == 400
    assert client.get("/_fake/reset").status_code == 405
    assert client.post("/_fake/reset").json() == {"ok": True}
    assert fake.messages() == []
    config = client.get("/_fake/config").json()
    assert config["outage"] is False
    assert config["blocked_chats"] == []
    assert config["force_429"]["count"] == 0
    assert config["limits"] is True
    stats = client.get("/_fake/stats").json()
    assert stats["messages"] == 0
    assert stats["count_429"] == 0
    assert send(client, 1).json()["result"]["message_id"] == 1
    assert client.get("/_fake/health").json() == {"ok": True}


def test_wait_for_messages(fake: FakeBotApi, client: httpx.Client) -> None:
    def later() -> None:
        time.sleep(0.1)
        with httpx.Client(base_url=fake.url) as http:
            send(http, 1, "a")
            send(http, 2, "b")

    worker = threading.Thread(target=later)
    worker.start()
    started = time.monotonic()
    found = fake.wait_for_messages(2, timeout=5)
    assert [m.text for m in found] == ["a", "b"]
    assert time.monotonic() - started < 2
    worker.join()
    assert [m.text for m in fake.wait_for_messages(1, timeout=1, chat_id=2)] == ["b"]
    with pytest.raises(TimeoutError):
        fake.wait_for_messages(3, timeout=0.1)
    over_http = client.get("/_fake/wait", params={"n": 3, "timeout": 0.1})
    assert over_http.status_code == 408
    assert len(client.get("/_fake/wait", params={"n": 2}).json()) == 2


def test_concurrent_sends_are_all_recorded() -> None:
    with FakeBotApi(limits=False) as fake, httpx.Client(base_url=fake.url) as http:
        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(lambda i: send(http, i % 4, str(i)).status_code, range(200)))
        assert statuses == [200] * 200
        assert len(fake.wait_for_messages(200, timeout=1)) == 200
        for chat in range(4):
            assert sorted(m.message_id for m in fake.messages(chat_id=chat)) == list(range(1, 51))


def test_stop_closes_kept_alive_connections() -> None:
    fake = FakeBotApi().start()
    with httpx.Client(base_url=fake.url) as http:
        assert http.get(f"/bot{TOKEN}/getMe").status_code == 200
        fake.stop()
        assert not fake.running
        with pytest.raises(httpx.TransportError):
            http.get(f"/bot{TOKEN}/getMe", timeout=1)


# --------------------------------------------------------------------------- python-telegram-bot


# PTB itself warns about RetryAfter.retry_after becoming a timedelta in v23
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
def test_python_telegram_bot_talks_to_it(fake: FakeBotApi) -> None:
    async def scenario() -> None:
        bot = telegram.Bot(TOKEN, base_url=f"{fake.url}/bot")
        async with bot:
            assert bot.username == "fake123456_bot"
            keyboard = telegram.InlineKeyboardMarkup(
                [[telegram.InlineKeyboardButton("Go", callback_data="go")]]
            )
            message = await bot.send_message(
                chat_id=1001, text="*hello*", parse_mode="MarkdownV2", reply_markup=keyboard
            )
            assert isinstance(message, telegram.Message)
            assert message.text == "*hello*"
            assert message.chat.id == 1001
            assert message.chat.type == "private"
            assert message.message_id == 1
            assert message.reply_markup == keyboard

            # per-chat limit -> RetryAfter
            with pytest.raises(RetryAfter) as excinfo:
                await bot.send_message(chat_id=1001, text="too soon")
            assert retry_after_seconds(excinfo.value) == 1

            # blocked chat -> Forbidden
            fake.block_chat(1002)
            with pytest.raises(Forbidden, match="bot was blocked by the user"):
                await bot.send_message(chat_id=1002, text="blocked")

            # forced 429 -> RetryAfter with the chosen retry_after
            fake.force_429(1, retry_after=4, methods=["sendMessage"])
            with pytest.raises(RetryAfter) as excinfo:
                await bot.send_message(chat_id=1003, text="forced")
            assert retry_after_seconds(excinfo.value) == 4

            # outage -> NetworkError
            fake.set_outage(True)
            with pytest.raises(NetworkError):
                await bot.send_message(chat_id=1004, text="down")
            fake.set_outage(False)

            assert await bot.set_webhook(
                "https://example.com/tg",
                secret_token="abc",
                allowed_updates=["message"],
                drop_pending_updates=True,
            )
            info = await bot.get_webhook_info()
            assert info.url == "https://example.com/tg"

    asyncio.run(scenario())
    sent = fake.messages()
    assert [(m.chat_id, m.text, m.parse_mode) for m in sent] == [(1001, "*hello*", "MarkdownV2")]
    assert sent[0].reply_markup == {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    assert fake.webhook["allowed_updates"] == ["message"]
    assert fake.webhook["secret_token"] == "abc"
    assert fake.webhook["drop_pending_updates"] is True
    assert fake.stats()["count_429"] == 2


# --------------------------------------------------------------------------- command line


def test_command_line_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.fakes.telegram_bot_api", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0
    assert "--no-limits" in result.stdout
    assert "--port" in result.stdout


def test_command_line_runs_and_logs_requests() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.telegram_bot_api", "--port", "0", "--no-limits"],
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        assert "rate limits off" in banner
        url = banner.split(" on ", 1)[1].split(" ", 1)[0]
        with httpx.Client(base_url=url, timeout=5) as http:
            assert send(http, 1).status_code == 200
            assert send(http, 1).status_code == 200  # no per-chat limit with --no-limits
        line = process.stderr.readline()
        assert "POST /bot123456:***/sendMessage" in line
        assert " 200 " in line
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0
