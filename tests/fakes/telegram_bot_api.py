"""A fake Telegram Bot API server: a real HTTP server for tests, benchmarks and the local demo.

It speaks the Bot API wire format at ``/bot<TOKEN>/<method>`` (POST with a JSON, form-encoded
or multipart body, or GET with query parameters) and answers like api.telegram.org does, so real
clients such as python-telegram-bot can be pointed at it::

    with FakeBotApi() as fake:
        bot = telegram.Bot(token, base_url=fake.base_url)   # base_url == f"{fake.url}/bot"
        await bot.send_message(chat_id=42, text="hi")
        assert fake.wait_for_messages(1, timeout=5)[0].text == "hi"

What it does:

* Methods: ``getMe``, ``sendMessage``, ``editMessageText``, ``answerCallbackQuery``,
  ``setWebhook``, ``deleteWebhook``, ``getWebhookInfo`` and ``getUpdates`` (always empty; it
  waits for the client's long-poll ``timeout``, at most 50 s). Method names are case-insensitive,
  as on the real API. Anything else is ``404 Not Found: method not found``.
* Every delivered ``sendMessage`` is recorded in memory (thread-safe), readable through the Python
  API (:meth:`FakeBotApi.messages`, :meth:`FakeBotApi.wait_for_messages`) and through the control
  endpoints under ``/_fake/`` (see :data:`CONTROL_ENDPOINTS`), which never go through the
  simulated failures below.
* Telegram's rate limits, on by default, for ``sendMessage`` only: per bot token at most
  ``global_per_sec`` messages (30) across all chats and at most ``per_chat_per_sec`` messages (1)
  to one chat within any sliding ``window`` (1.0 s). A refused message gets HTTP 429 with
  ``parameters.retry_after`` (an integer >= 1, the time until the send would be accepted,
  rounded up) and a ``Retry-After`` header; it is not recorded and does not use up the window.
  The observed maxima are reported by :meth:`FakeBotApi.stats` even when limits are off, so a
  benchmark run with ``--no-limits`` can still check how fast a client really sent.
* Failure simulation: blocked chats (``403 Forbidden: bot was blocked by the user``), outage
  (every Bot API request gets ``502 Bad Gateway``, or with ``outage_mode="close"`` the
  connection is closed without any response), a delay (each Bot API request hangs ``delay``
  seconds before being handled, combinable with outage) and forced 429s for the next K requests.

Order of checks for a Bot API request: delay, outage, path (404), token (401), method (404),
parameters (400), forced 429, then the method itself (for ``sendMessage``: blocked chat 403,
then the rate limits).

Run it by hand from a source checkout with ``python -m tests.fakes.telegram_bot_api --port 8081
[--no-limits]`` (or ``manage.py fake_bot_api``). Standard library only; it imports nothing from
Django. It lives under ``tests/``, so it is not packaged nor in the production image.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import re
import signal
import socket
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from email.parser import BytesParser
from email.policy import HTTP as HTTP_POLICY
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "CONTROL_ENDPOINTS",
    "FakeBotApi",
    "RequestRecord",
    "SentMessage",
    "main",
]

logger = logging.getLogger(__name__)

OutageMode = Literal["502", "close"]

CONTROL_ENDPOINTS: dict[str, str] = {
    "GET /_fake/health": "liveness: {'ok': true}",
    "GET /_fake/messages?chat_id=&token=": "JSON list of delivered messages, oldest first",
    "GET /_fake/wait?n=&timeout=&chat_id=&token=": (
        "block until n messages are recorded (timeout <= 60 s); 200 with the list, 408 if not"
    ),
    "GET /_fake/requests?method=": "JSON list of every Bot API request and its HTTP status",
    "GET /_fake/stats": "counters and observed maximum rates",
    "GET /_fake/webhook": "webhook settings per token, and the last one set under 'current'",
    "GET /_fake/config": "current behaviour settings",
    "POST /_fake/config": "JSON object changing settings (keys: see FakeBotApi.configure)",
    "POST /_fake/reset": "forget everything and go back to the settings given at start",
}

MAX_TEXT_LENGTH = 4096
MAX_BODY_BYTES = 20 * 1024 * 1024
MAX_CONTROL_WAIT = 60.0
MAX_GET_UPDATES_WAIT = 50.0
_PARSE_MODES = {"html", "markdown", "markdownv2"}
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_BOT_PATH_RE = re.compile(r"/bot([^/]+)/([^/]*)/?")
_CONFIG_KEYS = (
    "limits",
    "per_chat_per_sec",
    "global_per_sec",
    "window",
    "outage",
    "outage_mode",
    "delay",
    "tokens",
    "block_chats",
    "unblock_chats",
    "blocked_chats",
    "force_429",
)


@dataclass(frozen=True)
class SentMessage:
    """One message accepted by ``sendMessage`` (refused ones are never recorded)."""

    token: str
    chat_id: int
    text: str
    parse_mode: str | None
    reply_markup: Any
    message_id: int
    monotonic: float
    wall: float
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable copy."""
        return asdict(self)


@dataclass(frozen=True)
class RequestRecord:
    """One Bot API request as the server saw it, with the HTTP status it answered.

    ``status`` is 0 when the connection was closed without an answer (outage in "close" mode);
    ``method`` is the raw path when the path was not of the form ``/bot<TOKEN>/<method>``.
    """

    method: str
    token: str | None
    http_method: str
    status: int
    params: dict[str, Any]
    monotonic: float
    wall: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable copy."""
        return asdict(self)


@dataclass
class _Config:
    limits: bool
    per_chat_per_sec: int
    global_per_sec: int
    window: float
    tokens: frozenset[str] | None
    outage: bool = False
    outage_mode: OutageMode = "502"
    delay: float = 0.0


@dataclass
class _Webhook:
    url: str = ""
    secret_token: str | None = None
    allowed_updates: list[str] | None = None
    drop_pending_updates: bool | None = None
    max_connections: int | None = None
    ip_address: str | None = None
    updated_wall: float | None = None


class _ApiError(Exception):
    """An error answer of the Bot API."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}


class _ConnectionDrop(Exception):
    """Outage in "close" mode: hang up without answering."""


class _ControlError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Reply:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    close_connection: bool = False


def _too_many(retry_after: int) -> _ApiError:
    return _ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


# --------------------------------------------------------------------------- parameter parsing


def _parse_params(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    """Merge query-string and body parameters the way the Bot API does (body wins)."""
    params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    if not body.strip():
        return params
    ctype = content_type.split(";", 1)[0].strip().lower()
    if ctype == "application/json" or (not ctype and body.lstrip()[:1] == b"{"):
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise _ApiError(400, "Bad Request: can't parse JSON request body")
        if not isinstance(data, dict):
            raise _ApiError(400, "Bad Request: request body must be a JSON object")
        params.update(data)
    elif ctype == "application/x-www-form-urlencoded":
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise _ApiError(400, "Bad Request: can't decode form body as UTF-8")
        params.update({k: v[-1] for k, v in form.items()})
    elif ctype == "multipart/form-data":
        params.update(_parse_multipart(body, content_type))
    else:
        raise _ApiError(400, f"Bad Request: unsupported Content-Type {ctype!r}")
    return params


def _parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP_POLICY).parsebytes(head + body)
    if not message.is_multipart():
        raise _ApiError(400, "Bad Request: can't parse multipart body")
    result: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        if part.get_filename():
            result[name] = {"filename": part.get_filename(), "size": len(raw)}
        else:
            result[name] = raw.decode("utf-8", "replace")
    return result


def _coerce_int(value: Any, key: str) -> int:
    if isinstance(value, bool):
        raise _ApiError(400, f"Bad Request: field {key!r} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise _ApiError(400, f"Bad Request: field {key!r} must be an integer")


def _opt_int(params: Mapping[str, Any], key: str) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    return _coerce_int(value, key)


def _opt_bool(params: Mapping[str, Any], key: str) -> bool | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "false", "0"}:
        return value.strip().lower() in {"true", "1"}
    raise _ApiError(400, f"Bad Request: field {key!r} must be a Boolean")


def _opt_json(params: Mapping[str, Any], key: str, error: str) -> Any:
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise _ApiError(400, error)
    return value


def _chat_id(params: Mapping[str, Any]) -> int:
    value = params.get("chat_id")
    if value is None or value == "":
        raise _ApiError(400, "Bad Request: chat_id is empty")
    try:
        return _coerce_int(value, "chat_id")
    except _ApiError:
        # "@channelusername" and friends: this fake knows no usernames.
        raise _ApiError(400, "Bad Request: chat not found")


def _normalise_chat_id(value: int | str) -> int:
    try:
        return _coerce_int(value, "chat_id")
    except _ApiError:
        raise ValueError(f"chat_id must be an integer, got {value!r}")


def _bot_user(token: str) -> dict[str, Any]:
    prefix = token.split(":", 1)[0]
    bot_id = int(prefix) if prefix.isdigit() else zlib.crc32(token.encode()) or 1
    return {
        "id": bot_id,
        "is_bot": True,
        "first_name": "Fake Bot",
        "username": f"fake{bot_id}_bot",
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def _chat_object(chat_id: int) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "Test", "username": None}
    kind = "supergroup" if str(chat_id).startswith("-100") else "group"
    return {"id": chat_id, "type": kind, "title": f"Fake {kind} {chat_id}"}


def _mask_path(path: str) -> str:
    return re.sub(r"^/bot([^/:]*)(:[^/]*)?", lambda m: f"/bot{m.group(1)}:***", path)


def _purge(window: deque[float], older_than: float) -> None:
    while window and window[0] <= older_than:
        window.popleft()


# --------------------------------------------------------------------------- the fake


class FakeBotApi:
    """A fake Telegram Bot API on a real HTTP server, with recording, rate limits and failures.

    ``port=0`` picks a free port; read :attr:`url` after :meth:`start`. ``tokens`` restricts the
    accepted bot tokens (others get 401); ``None`` accepts any. ``per_chat_per_sec`` and
    ``global_per_sec`` are message counts allowed within any sliding ``window`` seconds (1.0 by
    default; tests may shrink it); ``limits=False`` turns rate limiting off.
    """

    _forced_methods: frozenset[str] | None

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: Iterable[str] | None = None,
        per_chat_per_sec: int = 1,
        global_per_sec: int = 30,
        *,
        window: float = 1.0,
        limits: bool = True,
        log_requests: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.log_requests = log_requests
        self._initial = _Config(
            limits=bool(limits),
            per_chat_per_sec=self._positive_int(per_chat_per_sec, "per_chat_per_sec"),
            global_per_sec=self._positive_int(global_per_sec, "global_per_sec"),
            window=self._positive_float(window, "window"),
            tokens=frozenset(tokens) if tokens is not None else None,
        )
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stop_event = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._methods: dict[str, Callable[[str, dict[str, Any]], Any]] = {
            "getme": self._m_get_me,
            "sendmessage": self._m_send_message,
            "editmessagetext": self._m_edit_message_text,
            "answercallbackquery": self._m_answer_callback_query,
            "setwebhook": self._m_set_webhook,
            "deletewebhook": self._m_delete_webhook,
            "getwebhookinfo": self._m_get_webhook_info,
            "getupdates": self._m_get_updates,
        }
        self._reset_state()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeBotApi:
        """Bind the socket and serve in a daemon thread; returns ``self``."""
        if self._server is not None:
            return self
        self._stop_event.clear()
        server = _Server((self.host, self.port), self)
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-bot-api:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake hanging requests and drop open keep-alive connections."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stop_event.set()
        with self._changed:
            self._changed.notify_all()
        server.shutdown()
        server.close_all_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def serve_forever(self) -> None:
        """Start if needed and block until :meth:`stop` is called or Ctrl+C."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(timeout=1.0)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is currently serving."""
        return self._server is not None

    @property
    def url(self) -> str:
        """Base URL of the server, e.g. ``http://127.0.0.1:41234``."""
        if self._server is None:
            raise RuntimeError("FakeBotApi is not started")
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What python-telegram-bot wants as ``base_url`` (the token is appended to it)."""
        return f"{self.url}/bot"

    def __repr__(self) -> str:
        where = self.url if self.running else "stopped"
        return f"<FakeBotApi {where}>"

    # ------------------------------------------------------------------ recorded data

    def messages(
        self, chat_id: int | str | None = None, token: str | None = None
    ) -> list[SentMessage]:
        """Delivered messages, oldest first, optionally only those to ``chat_id`` / by ``token``."""
        wanted = _normalise_chat_id(chat_id) if chat_id is not None else None
        with self._lock:
            return self._filter(wanted, token)

    def wait_for_messages(
        self,
        n: int,
        timeout: float = 5.0,
        chat_id: int | str | None = None,
        token: str | None = None,
    ) -> list[SentMessage]:
        """Block until at least ``n`` (matching) messages were delivered; return them all.

        Raises :class:`TimeoutError` when ``timeout`` seconds pass first.
        """
        wanted = _normalise_chat_id(chat_id) if chat_id is not None else None
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = self._filter(wanted, token)
                if len(found) >= n:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"expected {n} message(s) within {timeout}s, got {len(found)}"
                    )
                self._changed.wait(remaining)

    def request_log(self, method: str | None = None) -> list[RequestRecord]:
        """Every Bot API request seen (any status), optionally only one method."""
        with self._lock:
            if method is None:
                return list(self._requests)
            low = method.lower()
            return [r for r in self._requests if r.method.lower() == low]

    @property
    def webhook(self) -> dict[str, Any]:
        """Webhook settings last changed by setWebhook/deleteWebhook (``token`` says whose)."""
        with self._lock:
            token = self._last_webhook_token
            hook = self._webhooks.get(token, _Webhook()) if token is not None else _Webhook()
            return {"token": token, **asdict(hook)}

    def webhook_for(self, token: str) -> dict[str, Any]:
        """Webhook settings of one bot token."""
        with self._lock:
            return {"token": token, **asdict(self._webhooks.get(token, _Webhook()))}

    def stats(self) -> dict[str, Any]:
        """Counters and the maximum number of messages seen in any sliding window.

        ``max_rate_per_chat`` / ``max_rate_global`` are counts within ``window`` seconds (per
        second with the default window); the global one is per bot token, as is the limit.
        They are tracked even when limits are off.
        """
        with self._lock:
            by_chat = dict(self._max_by_chat)
            return {
                "messages": len(self._messages),
                "requests": self._request_count,
                "count_429": self._count_429,
                "count_403": self._count_403,
                "status_counts": {str(k): v for k, v in sorted(self._status_counts.items())},
                "window": self._config.window,
                "max_rate_per_chat": max(by_chat.values(), default=0),
                "max_rate_global": max(self._max_by_token.values(), default=0),
                "max_rate_by_chat": {str(k): v for k, v in by_chat.items()},
            }

    # ------------------------------------------------------------------ behaviour

    def config(self) -> dict[str, Any]:
        """Current behaviour settings, as ``GET /_fake/config`` shows them."""
        with self._lock:
            return self._config_snapshot()

    def configure(self, **options: Any) -> dict[str, Any]:
        """Change behaviour at runtime; same keys as ``POST /_fake/config``. Returns settings.

        Keys: ``limits`` (bool), ``per_chat_per_sec`` (int), ``global_per_sec`` (int),
        ``window`` (seconds), ``outage`` (bool), ``outage_mode`` (``"502"`` or ``"close"``),
        ``delay`` (seconds each Bot API request hangs), ``tokens`` (list or null),
        ``block_chats`` / ``unblock_chats`` (lists add/remove), ``blocked_chats`` (list, replaces),
        ``force_429`` (int count, or ``{"count", "retry_after", "methods"}``).
        Everything is validated before anything changes; bad input raises ValueError.
        """
        unknown = sorted(set(options) - set(_CONFIG_KEYS))
        if unknown:
            raise ValueError(f"unknown config key(s): {', '.join(unknown)}")
        staged: dict[str, Any] = {}
        if "limits" in options:
            staged["limits"] = self._bool(options["limits"], "limits")
        for key in ("per_chat_per_sec", "global_per_sec"):
            if key in options:
                staged[key] = self._positive_int(options[key], key)
        if "window" in options:
            staged["window"] = self._positive_float(options["window"], "window")
        if "outage" in options:
            staged["outage"] = self._bool(options["outage"], "outage")
        if "outage_mode" in options:
            staged["outage_mode"] = self._outage_mode(options["outage_mode"])
        if "delay" in options:
            staged["delay"] = self._non_negative_float(options["delay"], "delay")
        if "tokens" in options:
            tokens = options["tokens"]
            if tokens is not None and (
                isinstance(tokens, str) or not all(isinstance(t, str) for t in tokens)
            ):
                raise ValueError("tokens must be a list of strings or null")
            staged["tokens"] = frozenset(tokens) if tokens is not None else None
        chats: dict[str, set[int]] = {}
        for key in ("block_chats", "unblock_chats", "blocked_chats"):
            if key in options:
                values = options[key]
                if isinstance(values, (str, int)):
                    values = [values]
                chats[key] = {_normalise_chat_id(v) for v in values}
        forced: tuple[int, int, frozenset[str] | None] | None = None
        if "force_429" in options:
            forced = self._forced_spec(options["force_429"])

        with self._changed:
            for key, value in staged.items():
                setattr(self._config, key, value)
            if "blocked_chats" in chats:
                self._blocked.clear()
                self._blocked.update(chats["blocked_chats"])
            self._blocked |= chats.get("block_chats", set())
            self._blocked -= chats.get("unblock_chats", set())
            if forced is not None:
                count, retry_after, methods = forced
                self._forced_remaining = count
                self._forced_retry_after = retry_after
                self._forced_methods = methods
            self._changed.notify_all()
            return self._config_snapshot()

    def set_limits(
        self,
        enabled: bool | None = None,
        per_chat_per_sec: int | None = None,
        global_per_sec: int | None = None,
        window: float | None = None,
    ) -> None:
        """Change the rate limits; ``None`` leaves a setting as it is."""
        options = {
            "limits": enabled,
            "per_chat_per_sec": per_chat_per_sec,
            "global_per_sec": global_per_sec,
            "window": window,
        }
        self.configure(**{k: v for k, v in options.items() if v is not None})

    def block_chat(self, chat_id: int | str) -> None:
        """sendMessage/editMessageText to this chat now get 403 (bot was blocked by the user)."""
        self.configure(block_chats=[chat_id])

    def unblock_chat(self, chat_id: int | str) -> None:
        """Undo :meth:`block_chat`."""
        self.configure(unblock_chats=[chat_id])

    @property
    def blocked_chats(self) -> frozenset[int]:
        """Chats currently blocked."""
        with self._lock:
            return frozenset(self._blocked)

    def set_outage(self, enabled: bool = True, mode: OutageMode | None = None) -> None:
        """Outage: every Bot API request gets 502 (``mode="502"``) or a closed connection."""
        options: dict[str, Any] = {"outage": enabled}
        if mode is not None:
            options["outage_mode"] = mode
        self.configure(**options)

    def set_delay(self, seconds: float) -> None:
        """Make every Bot API request hang ``seconds`` before it is handled (0 to stop)."""
        self.configure(delay=seconds)

    def force_429(
        self, count: int, retry_after: int = 1, methods: Iterable[str] | None = None
    ) -> None:
        """Answer the next ``count`` Bot API requests with 429 and ``retry_after``.

        ``methods`` restricts this to those method names (e.g. ``["sendMessage"]``, so that a
        client's getMe is not the one refused); by default any method counts.
        """
        spec: dict[str, Any] = {"count": count, "retry_after": retry_after}
        if methods is not None:
            spec["methods"] = list(methods)
        self.configure(force_429=spec)

    def reset(self) -> None:
        """Forget messages, stats, webhooks and failures; restore the settings given at start."""
        with self._changed:
            self._reset_state()
            self._changed.notify_all()

    # ------------------------------------------------------------------ internals: state

    def _reset_state(self) -> None:
        initial = self._initial
        self._config = _Config(
            limits=initial.limits,
            per_chat_per_sec=initial.per_chat_per_sec,
            global_per_sec=initial.global_per_sec,
            window=initial.window,
            tokens=initial.tokens,
        )
        self._messages: list[SentMessage] = []
        self._requests: list[RequestRecord] = []
        self._live: dict[tuple[str, int, int], dict[str, Any]] = {}
        self._next_message_id: dict[tuple[str, int], int] = {}
        self._chat_windows: dict[tuple[str, int], deque[float]] = {}
        self._token_windows: dict[str, deque[float]] = {}
        self._max_by_chat: dict[int, int] = {}
        self._max_by_token: dict[str, int] = {}
        self._blocked: set[int] = set()
        self._forced_remaining = 0
        self._forced_retry_after = 1
        self._forced_methods = None
        self._webhooks: dict[str, _Webhook] = {}
        self._last_webhook_token: str | None = None
        self._request_count = 0
        self._count_429 = 0
        self._count_403 = 0
        self._status_counts: dict[int, int] = {}
        self._accepted_since_sweep = 0

    def _config_snapshot(self) -> dict[str, Any]:
        cfg = self._config
        return {
            "limits": cfg.limits,
            "per_chat_per_sec": cfg.per_chat_per_sec,
            "global_per_sec": cfg.global_per_sec,
            "window": cfg.window,
            "outage": cfg.outage,
            "outage_mode": cfg.outage_mode,
            "delay": cfg.delay,
            "tokens": sorted(cfg.tokens) if cfg.tokens is not None else None,
            "blocked_chats": sorted(self._blocked),
            "force_429": {
                "count": self._forced_remaining,
                "retry_after": self._forced_retry_after,
                "methods": sorted(self._forced_methods) if self._forced_methods else None,
            },
        }

    def _filter(self, chat_id: int | None, token: str | None) -> list[SentMessage]:
        return [
            m
            for m in self._messages
            if (chat_id is None or m.chat_id == chat_id) and (token is None or m.token == token)
        ]

    @staticmethod
    def _bool(value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be true or false")
        return value

    @staticmethod
    def _positive_int(value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be an integer >= 1")
        return value

    @staticmethod
    def _positive_float(value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{key} must be a number > 0")
        return float(value)

    @staticmethod
    def _non_negative_float(value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"{key} must be a number >= 0")
        return float(value)

    @staticmethod
    def _outage_mode(value: Any) -> OutageMode:
        if value in (502, "502"):
            return "502"
        if value == "close":
            return "close"
        raise ValueError('outage_mode must be "502" or "close"')

    def _forced_spec(self, spec: Any) -> tuple[int, int, frozenset[str] | None]:
        if isinstance(spec, int) and not isinstance(spec, bool):
            spec = {"count": spec}
        if not isinstance(spec, dict):
            raise ValueError("force_429 must be a count or {count, retry_after, methods}")
        extra = set(spec) - {"count", "retry_after", "methods"}
        if extra:
            raise ValueError(f"unknown force_429 key(s): {', '.join(sorted(extra))}")
        count = spec.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError("force_429.count must be an integer >= 0")
        retry_after = self._positive_int(spec.get("retry_after", 1), "force_429.retry_after")
        methods = spec.get("methods")
        if methods is not None:
            if isinstance(methods, str) or not all(isinstance(m, str) for m in methods):
                raise ValueError("force_429.methods must be a list of method names")
            methods = frozenset(m.lower() for m in methods)
        return count, retry_after, methods

    # ------------------------------------------------------------------ internals: Bot API

    def _handle_bot(
        self, http_method: str, path: str, query: str, body: bytes, content_type: str
    ) -> _Reply:
        with self._lock:
            self._request_count += 1
            delay = self._config.delay
        if delay > 0:
            self._stop_event.wait(delay)
        with self._lock:
            outage, mode = self._config.outage, self._config.outage_mode
        token: str | None = None
        method = path
        params: dict[str, Any] = {}
        try:
            match = _BOT_PATH_RE.fullmatch(path)
            if match is not None:
                token, method = match.group(1), match.group(2)
            if outage:
                if mode == "close":
                    raise _ConnectionDrop
                raise _ApiError(502, "Bad Gateway")
            if match is None or token is None:
                raise _ApiError(404, "Not Found")
            with self._lock:
                tokens = self._config.tokens
            if tokens is not None and token not in tokens:
                raise _ApiError(401, "Unauthorized")
            handler = self._methods.get(method.lower())
            if handler is None:
                raise _ApiError(404, "Not Found: method not found")
            params = _parse_params(query, body, content_type)
            self._check_forced(method)
            result = handler(token, params)
            payload = {"ok": True, "result": result}
            if isinstance(result, tuple):
                payload = {"ok": True, "result": result[0], "description": result[1]}
            reply = _Reply(200, payload)
        except _ApiError as err:
            reply = _Reply(err.code, err.payload(), err.headers())
        except _ConnectionDrop:
            reply = _Reply(0, None, close_connection=True)
        self._log_request(method, token, http_method, reply.status, params)
        return reply

    def _log_request(
        self, method: str, token: str | None, http_method: str, status: int, params: dict[str, Any]
    ) -> None:
        record = RequestRecord(
            method=method,
            token=token,
            http_method=http_method,
            status=status,
            params=params,
            monotonic=time.monotonic(),
            wall=time.time(),
        )
        with self._lock:
            self._requests.append(record)
            self._status_counts[status] = self._status_counts.get(status, 0) + 1
            if status == 429:
                self._count_429 += 1
            elif status == 403:
                self._count_403 += 1

    def _check_forced(self, method: str) -> None:
        with self._lock:
            if self._forced_remaining <= 0:
                return
            if self._forced_methods is not None and method.lower() not in self._forced_methods:
                return
            self._forced_remaining -= 1
            retry_after = self._forced_retry_after
        raise _too_many(retry_after)

    def _m_get_me(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        return _bot_user(token)

    def _m_send_message(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _chat_id(params)
        raw_text = params.get("text")
        text = "" if raw_text is None else str(raw_text)
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise _ApiError(400, "Bad Request: message is too long")
        parse_mode = params.get("parse_mode") or None
        if parse_mode is not None and str(parse_mode).lower() not in _PARSE_MODES:
            raise _ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode!r}")
        reply_markup = _opt_json(
            params, "reply_markup", "Bad Request: can't parse reply keyboard markup JSON object"
        )
        if reply_markup is not None and not isinstance(reply_markup, dict):
            raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")

        with self._changed:
            if chat_id in self._blocked:
                raise _ApiError(403, "Forbidden: bot was blocked by the user")
            cfg = self._config
            now = time.monotonic()
            chat_key = (token, chat_id)
            chat_window = self._chat_windows.setdefault(chat_key, deque())
            token_window = self._token_windows.setdefault(token, deque())
            _purge(chat_window, now - cfg.window)
            _purge(token_window, now - cfg.window)
            if cfg.limits:
                waits = []
                if len(chat_window) >= cfg.per_chat_per_sec:
                    waits.append(chat_window[-cfg.per_chat_per_sec] + cfg.window - now)
                if len(token_window) >= cfg.global_per_sec:
                    waits.append(token_window[-cfg.global_per_sec] + cfg.window - now)
                if waits:
                    raise _too_many(max(1, math.ceil(max(waits))))
            chat_window.append(now)
            token_window.append(now)
            self._max_by_chat[chat_id] = max(self._max_by_chat.get(chat_id, 0), len(chat_window))
            self._max_by_token[token] = max(self._max_by_token.get(token, 0), len(token_window))
            message_id = self._next_message_id.get(chat_key, 1)
            self._next_message_id[chat_key] = message_id + 1
            wall = time.time()
            message: dict[str, Any] = {
                "message_id": message_id,
                "from": _bot_user(token),
                "chat": _chat_object(chat_id),
                "date": int(wall),
                "text": text,
            }
            if isinstance(reply_markup, dict) and "inline_keyboard" in reply_markup:
                message["reply_markup"] = reply_markup
            self._live[(token, chat_id, message_id)] = message
            self._messages.append(
                SentMessage(
                    token=token,
                    chat_id=chat_id,
                    text=text,
                    parse_mode=str(parse_mode) if parse_mode is not None else None,
                    reply_markup=reply_markup,
                    message_id=message_id,
                    monotonic=now,
                    wall=wall,
                    params=dict(params),
                )
            )
            self._sweep_windows(now)
            self._changed.notify_all()
            return json.loads(json.dumps(message))

    def _sweep_windows(self, now: float) -> None:
        """Drop idle per-chat windows now and then so many-chat runs don't grow memory."""
        self._accepted_since_sweep += 1
        if self._accepted_since_sweep < 1000:
            return
        self._accepted_since_sweep = 0
        horizon = now - self._config.window
        for key in [k for k, w in self._chat_windows.items() if not w or w[-1] <= horizon]:
            del self._chat_windows[key]

    def _m_edit_message_text(self, token: str, params: dict[str, Any]) -> Any:
        raw_text = params.get("text")
        text = "" if raw_text is None else str(raw_text)
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise _ApiError(400, "Bad Request: message is too long")
        reply_markup = _opt_json(
            params, "reply_markup", "Bad Request: can't parse reply keyboard markup JSON object"
        )
        if params.get("inline_message_id"):
            return True
        chat_id = _chat_id(params)
        message_id = _opt_int(params, "message_id")
        if message_id is None:
            raise _ApiError(400, "Bad Request: message identifier is not specified")
        with self._lock:
            if chat_id in self._blocked:
                raise _ApiError(403, "Forbidden: bot was blocked by the user")
            message = self._live.get((token, chat_id, message_id))
            if message is None:
                raise _ApiError(400, "Bad Request: message to edit not found")
            if message["text"] == text and message.get("reply_markup") == reply_markup:
                raise _ApiError(
                    400,
                    "Bad Request: message is not modified: specified new message content and "
                    "reply markup are exactly the same as a current content and reply markup "
                    "of the message",
                )
            message["text"] = text
            message["edit_date"] = int(time.time())
            if isinstance(reply_markup, dict) and "inline_keyboard" in reply_markup:
                message["reply_markup"] = reply_markup
            else:
                message.pop("reply_markup", None)
            return json.loads(json.dumps(message))

    def _m_answer_callback_query(self, token: str, params: dict[str, Any]) -> bool:
        if not params.get("callback_query_id"):
            raise _ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        _opt_bool(params, "show_alert")
        _opt_int(params, "cache_time")
        return True

    def _m_set_webhook(self, token: str, params: dict[str, Any]) -> tuple[bool, str]:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        secret = str(secret) if secret not in (None, "") else None
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(secret):
            raise _ApiError(400, "Bad Request: secret token contains unallowed characters")
        allowed = _opt_json(params, "allowed_updates", "Bad Request: can't parse allowed updates")
        if allowed is not None and (
            not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed)
        ):
            raise _ApiError(400, "Bad Request: can't parse allowed updates")
        drop = _opt_bool(params, "drop_pending_updates")
        max_connections = _opt_int(params, "max_connections")
        if max_connections is not None and not 1 <= max_connections <= 100:
            raise _ApiError(400, "Bad Request: bad webhook: max_connections must be in 1..100")
        ip_address = params.get("ip_address") or None
        with self._lock:
            self._webhooks[token] = _Webhook(
                url=url,
                secret_token=secret if url else None,
                allowed_updates=allowed,
                drop_pending_updates=drop,
                max_connections=(max_connections or 40) if url else None,
                ip_address=str(ip_address) if ip_address and url else None,
                updated_wall=time.time(),
            )
            self._last_webhook_token = token
        return True, "Webhook was set" if url else "Webhook was deleted"

    def _m_delete_webhook(self, token: str, params: dict[str, Any]) -> tuple[bool, str]:
        drop = _opt_bool(params, "drop_pending_updates")
        with self._lock:
            previous = self._webhooks.get(token)
            self._webhooks[token] = _Webhook(
                url="",
                allowed_updates=previous.allowed_updates if previous else None,
                drop_pending_updates=drop,
                updated_wall=time.time(),
            )
            self._last_webhook_token = token
        if previous is None or not previous.url:
            return True, "Webhook is already deleted"
        return True, "Webhook was deleted"

    def _m_get_webhook_info(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            hook = self._webhooks.get(token, _Webhook())
        info: dict[str, Any] = {
            "url": hook.url,
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }
        if hook.url:
            info["max_connections"] = hook.max_connections or 40
            if hook.ip_address:
                info["ip_address"] = hook.ip_address
        if hook.allowed_updates is not None:
            info["allowed_updates"] = hook.allowed_updates
        return info

    def _m_get_updates(self, token: str, params: dict[str, Any]) -> list[Any]:
        with self._lock:
            hook = self._webhooks.get(token)
        if hook is not None and hook.url:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        timeout = _opt_int(params, "timeout") or 0
        if timeout > 0:
            self._stop_event.wait(min(float(timeout), MAX_GET_UPDATES_WAIT))
        return []

    # ------------------------------------------------------------------ internals: control

    def _handle_control(self, http_method: str, path: str, query: str, body: bytes) -> _Reply:
        args = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        route = path.rstrip("/")
        try:
            if route == "/_fake/health":
                self._require(http_method, "GET")
                return _Reply(200, {"ok": True})
            if route == "/_fake/messages":
                self._require(http_method, "GET")
                found = self.messages(self._arg_chat(args), args.get("token") or None)
                return _Reply(200, [m.to_dict() for m in found])
            if route == "/_fake/wait":
                self._require(http_method, "GET")
                n = self._arg_number(args, "n", int, 1)
                timeout = min(self._arg_number(args, "timeout", float, 5.0), MAX_CONTROL_WAIT)
                try:
                    found = self.wait_for_messages(
                        int(n), timeout, self._arg_chat(args), args.get("token") or None
                    )
                except TimeoutError as err:
                    return _Reply(408, {"ok": False, "error": str(err)})
                return _Reply(200, [m.to_dict() for m in found])
            if route == "/_fake/requests":
                self._require(http_method, "GET")
                records = self.request_log(args.get("method") or None)
                return _Reply(200, [r.to_dict() for r in records])
            if route == "/_fake/stats":
                self._require(http_method, "GET")
                return _Reply(200, self.stats())
            if route == "/_fake/webhook":
                self._require(http_method, "GET")
                with self._lock:
                    hooks = {t: asdict(h) for t, h in self._webhooks.items()}
                return _Reply(200, {"current": self.webhook, "by_token": hooks})
            if route == "/_fake/reset":
                self._require(http_method, "POST")
                self.reset()
                return _Reply(200, {"ok": True})
            if route == "/_fake/config":
                if http_method == "GET":
                    return _Reply(200, self.config())
                self._require(http_method, "POST")
                try:
                    options = json.loads(body.decode("utf-8") or "{}")
                except (UnicodeDecodeError, ValueError):
                    raise _ControlError(400, "body must be a JSON object")
                if not isinstance(options, dict):
                    raise _ControlError(400, "body must be a JSON object")
                try:
                    return _Reply(200, self.configure(**options))
                except (TypeError, ValueError) as err:
                    raise _ControlError(400, str(err))
            raise _ControlError(404, f"no control endpoint {route}")
        except _ControlError as err:
            return _Reply(err.code, {"ok": False, "error": err.message})

    @staticmethod
    def _require(actual: str, expected: str) -> None:
        if actual != expected:
            raise _ControlError(405, f"use {expected}")

    @staticmethod
    def _arg_chat(args: Mapping[str, str]) -> int | None:
        raw = args.get("chat_id")
        if not raw:
            return None
        try:
            return _normalise_chat_id(raw)
        except ValueError as err:
            raise _ControlError(400, str(err))

    @staticmethod
    def _arg_number(
        args: Mapping[str, str], key: str, kind: type[int] | type[float], default: float
    ) -> float:
        raw = args.get(key)
        if not raw:
            return default
        try:
            value = kind(raw)
        except ValueError:
            raise _ControlError(400, f"{key} must be a number")
        if value < 0:
            raise _ControlError(400, f"{key} must be >= 0")
        return value


# --------------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeBotApi) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(conn)

    def close_all_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("fake bot api: error serving %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "FakeTelegramBotAPI/1.0"
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections are dropped after this many seconds

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        started = time.perf_counter()
        fake = self.server.fake
        split = urlsplit(self.path)
        try:
            body = self._read_body()
        except ValueError as err:
            self._send(_Reply(400, {"ok": False, "error_code": 400, "description": str(err)}))
            self.close_connection = True
            return
        try:
            if split.path == "/_fake" or split.path.startswith("/_fake/"):
                reply = fake._handle_control(self.command, split.path, split.query, body)
            else:
                reply = fake._handle_bot(
                    self.command,
                    split.path,
                    split.query,
                    body,
                    self.headers.get("Content-Type", ""),
                )
        except Exception as err:
            logger.exception("fake bot api: internal error on %s", _mask_path(split.path))
            reply = _Reply(
                500,
                {"ok": False, "error_code": 500, "description": f"Internal Server Error: {err}"},
            )
        self._send(reply)
        elapsed_ms = (time.perf_counter() - started) * 1000
        status = "closed" if reply.close_connection else str(reply.status)
        logger.log(
            logging.INFO if fake.log_requests else logging.DEBUG,
            '%s "%s %s" %s %.1fms',
            self.client_address[0],
            self.command,
            _mask_path(split.path),
            status,
            elapsed_ms,
        )

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        raw = self.headers.get("Content-Length")
        if not raw:
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise ValueError("Bad Request: invalid Content-Length")
        if length < 0 or length > MAX_BODY_BYTES:
            raise ValueError("Bad Request: request body too large")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ValueError("Bad Request: invalid chunked body")
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise ValueError("Bad Request: request body too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send(self, reply: _Reply) -> None:
        if reply.close_connection:
            self.close_connection = True
            return
        body = json.dumps(reply.payload, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake bot api: " + format, *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: :meth:`_dispatch` logs one line per request itself."""


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    """Run the fake in the foreground until Ctrl+C or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.telegram_bot_api",
        description=(
            "Fake Telegram Bot API server for tests, benchmarks and the local demo. Point a "
            "client at http://HOST:PORT/bot<TOKEN>/<method>; inspect it under /_fake/ "
            "(messages, stats, config, reset, webhook, requests, wait, health)."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port (default 8081; 0 = any)")
    parser.add_argument(
        "--no-limits", action="store_true", help="turn off the 30/s and 1/s-per-chat limits"
    )
    parser.add_argument("--per-chat", type=int, default=1, help="messages per chat per window")
    parser.add_argument("--global-rate", type=int, default=30, help="messages per token/window")
    parser.add_argument("--window", type=float, default=1.0, help="rate window in seconds")
    parser.add_argument(
        "--token",
        action="append",
        dest="tokens",
        metavar="TOKEN",
        help="accept only this bot token (repeatable; default: any token)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    fake = FakeBotApi(
        host=args.host,
        port=args.port,
        tokens=args.tokens,
        per_chat_per_sec=args.per_chat,
        global_per_sec=args.global_rate,
        window=args.window,
        limits=not args.no_limits,
        log_requests=not args.quiet,
    )

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    fake.start()
    limits = (
        "off"
        if args.no_limits
        else (f"{args.per_chat}/chat and {args.global_rate}/token per {args.window:g}s")
    )
    logger.info(
        "fake Telegram Bot API on %s (base_url %s), rate limits %s", fake.url, fake.base_url, limits
    )
    fake.serve_forever()
    logger.info("fake Telegram Bot API stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
