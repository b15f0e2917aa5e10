"""The one Telegram Bot API client: every call to Telegram goes through :meth:`BotApi.call`.

Used by the customer bot's notifications and replies (``notifications.transport``), the
operators' alerts (``platform_ops.alerts``) and the one-shot set-up calls (``setWebhook``,
``deleteWebhook``, ``getMe`` in ``notifications.bot_setup``). It lives beside the webhook
transport because it is a provider client of the outbox's kind; the ``telegram`` channel itself
(texts, rate limiter, blocked customers) is the notifications app's.

Decisions:

* A thin synchronous client of ours over one pooled httpx client per process
  (:mod:`outbox.transports.http`), rather than python-telegram-bot's ``Bot``: Dramatiq worker
  threads, the relay and management commands are synchronous, and PTB's ``Bot`` is asyncio (an
  event loop per call, and a client per loop).
  The bot still parses updates with PTB (``notifications.bot``).
* Timeouts are ``OUTBOX_HTTP_TIMEOUT_SECONDS`` (the notification sender's lease arithmetic
  counts on that bound), shorter per call where the caller must not wait (alerts: 5 s).
  Redirects are never followed.
* The bot token is part of the URL path, so it never goes into a log line or an error: errors
  carry the exception's class name, the HTTP status and Telegram's ``description`` (with the
  token masked should it ever appear), and ``repr`` shows only the bot's numeric id. httpx's own
  request log, which prints URLs, is kept at WARNING in the settings.
* One mapping of answers onto the transport errors (:mod:`outbox.transports`), whoever calls:

  - 200 with ``"ok": true``: the ``result``;
  - 429: :class:`~outbox.transports.Throttled`, ``retry_after`` from ``parameters.retry_after``
    (or the ``Retry-After`` header; :data:`DEFAULT_RETRY_AFTER` when neither is there);
  - 403 (the user blocked the bot, deleted the account, or the bot left the chat):
    :class:`~outbox.transports.TargetGone`;
  - any other answer (other 4xx, 5xx, a 200 without ``ok``) and network errors:
    :class:`~outbox.transports.TransportError` (retryable: the policy gives a 4xx 3 tries).
"""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings

from outbox.transports import TargetGone, Throttled, TransportError, parse_retry_after
from outbox.transports.http import pooled_client

#: retry_after used when Telegram answers 429 without saying how long to wait.
DEFAULT_RETRY_AFTER = 1.0
#: Characters of Telegram's ``description`` kept in an error.
DESCRIPTION_CAP = 300

#: How the client introduces itself to the Bot API.
USER_AGENT = "loyalty-platform-bot/1"


class BotApi:
    """One bot's side of the Bot API at ``TELEGRAM_API_BASE_URL`` (read at each call)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return f"BotApi(bot={self.bot_key})"

    @property
    def bot_key(self) -> str:
        """The numeric bot id before the colon: names the bot without its secret part."""
        return self._token.split(":", 1)[0]

    def call(
        self, method: str, payload: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """Call ``method`` with a JSON body; returns Telegram's ``result`` or raises a
        :class:`~outbox.transports.TransportError` (the mapping in the module docstring)."""
        url = f"{str(settings.TELEGRAM_API_BASE_URL).rstrip('/')}/bot{self._token}/{method}"
        try:
            response = pooled_client(USER_AGENT).post(
                url,
                json=payload or {},
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
        except httpx.HTTPError as exc:
            # Only the class name: an httpx error's text may carry the URL, hence the token.
            raise TransportError(exc.__class__.__name__) from None
        status = response.status_code
        body = _answer(response)
        if status == 200 and body.get("ok"):
            return body.get("result")
        description = str(body.get("description", "")).replace(self._token, "<token>")
        description = description[:DESCRIPTION_CAP]
        if status == 429:
            raise Throttled(
                "TelegramRetryAfter",
                status_code=429,
                retry_after=_retry_after(body, response.headers),
                excerpt=description,
            )
        if status == 403:
            raise TargetGone(
                "TelegramForbidden",
                status_code=403,
                excerpt=description,
                reason="the user blocked the bot",
            )
        raise TransportError(f"Telegram{status}", status_code=status, excerpt=description)


def _answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON object Telegram answers with; a stand-in with a ``description`` otherwise."""
    try:
        body = response.json()
    except ValueError:
        return {"ok": False, "description": response.text[:200]}
    if not isinstance(body, dict):
        return {"ok": False, "description": str(body)[:200]}
    return body


def _retry_after(body: dict[str, Any], headers: httpx.Headers) -> float:
    parameters = body.get("parameters")
    seconds = parse_retry_after(
        parameters.get("retry_after") if isinstance(parameters, dict) else None
    )
    if seconds is None:
        seconds = parse_retry_after(headers.get("retry-after"))
    return DEFAULT_RETRY_AFTER if seconds is None else seconds
