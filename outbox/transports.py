"""Transports: one per provider, each raising :class:`DeliveryFailed` carrying what the retry
policy needs (``retry_after``, ``permanent``, the status code and a short excerpt)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from django.conf import settings
from standardwebhooks import Webhook

from outbox.errors import UnsafeTarget
from outbox.ssrf import target_check

#: Bytes of a receiver's response we read and keep; the rest is never downloaded.
RESPONSE_READ_CAP = 4096
#: Longest Retry-After we honour from a receiver, in seconds.
RETRY_AFTER_CAP = 3600


class DeliveryFailed(Exception):
    """A try that did not deliver; ``permanent`` ones are not retried."""

    def __init__(
        self,
        error_class: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        permanent: bool = False,
        excerpt: str = "",
        abort: bool = False,
        disable_target: str = "",
        throttled: bool = False,
        deferred: bool = False,
    ) -> None:
        super().__init__(error_class)
        self.error_class = error_class
        self.status_code = status_code
        self.retry_after = retry_after
        self.permanent = permanent
        self.excerpt = excerpt
        #: The receiver asked us to stop retrying this message.
        self.abort = abort
        #: A reason to disable the whole target (410 Gone, bot blocked).
        self.disable_target = disable_target
        #: The provider asked us to slow down (Telegram 429): the next try waits exactly
        #: ``retry_after`` and the try does not use up a step of the retry schedule.
        self.throttled = throttled
        #: Nothing was sent (our own rate limiter had no slot in time): no try is counted, no
        #: failure either; the delivery goes back to pending for ``retry_after`` seconds.
        self.deferred = deferred


@dataclass
class SendOutcome:
    status_code: int | None
    duration_ms: int
    excerpt: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            from email.utils import parsedate_to_datetime

            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


_client_lock = threading.Lock()
_client: httpx.Client | None = None


def http_client() -> httpx.Client:
    """One pooled client per process: timeouts set, redirects never followed."""
    global _client
    with _client_lock:
        if _client is None:
            timeout = settings.OUTBOX_HTTP_TIMEOUT_SECONDS
            _client = httpx.Client(
                timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
                follow_redirects=False,
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
                headers={"user-agent": "loyalty-platform-webhooks/1"},
            )
        return _client


def _signed_request(
    *, url: str, secret: str, message_id: str, payload: dict[str, Any], request_id: str
) -> tuple[bytes, dict[str, str]]:
    try:
        target_check(url)
    except UnsafeTarget as exc:
        raise DeliveryFailed("UnsafeTarget", permanent=True, excerpt=exc.detail) from None
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
    }
    if request_id:
        headers["x-request-id"] = request_id
    return body.encode(), headers


def _judge(
    status: int, headers: httpx.Headers, excerpt: str, duration_ms: int, started_at: datetime
) -> SendOutcome:
    """Turn a receiver's answer into an outcome or a :class:`DeliveryFailed`."""
    if 200 <= status < 300:
        return SendOutcome(
            status_code=status, duration_ms=duration_ms, excerpt=excerpt, started_at=started_at
        )
    if headers.get("webhook-delivery", "").lower() == "abort-message":
        raise DeliveryFailed(
            "Aborted", status_code=status, permanent=True, abort=True, excerpt=excerpt
        )
    if status == 410:
        raise DeliveryFailed(
            "Gone",
            status_code=status,
            permanent=True,
            excerpt=excerpt,
            disable_target="receiver answered 410 Gone",
        )
    retry_after = parse_retry_after(headers.get("retry-after"))
    raise DeliveryFailed(
        f"HTTP{status}",
        status_code=status,
        retry_after=retry_after if status in (429, 503) else None,
        excerpt=excerpt,
    )


def webhook_send(
    *,
    url: str,
    secret: str,
    message_id: str,
    payload: dict[str, Any],
    request_id: str = "",
) -> SendOutcome:
    """POST one signed Standard Webhooks message; raise :class:`DeliveryFailed` unless 2xx."""
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    body, headers = _signed_request(
        url=url, secret=secret, message_id=message_id, payload=payload, request_id=request_id
    )
    try:
        with http_client().stream("POST", url, content=body, headers=headers) as response:
            chunk = b""
            for part in response.iter_bytes():
                chunk += part
                if len(chunk) >= RESPONSE_READ_CAP:
                    break
            excerpt = chunk[:RESPONSE_READ_CAP].decode("utf-8", "replace")[:500]
            status, response_headers = response.status_code, response.headers
    except httpx.HTTPError as exc:
        raise DeliveryFailed(exc.__class__.__name__) from None
    return _judge(
        status, response_headers, excerpt, int((time.perf_counter() - started) * 1000), started_at
    )
