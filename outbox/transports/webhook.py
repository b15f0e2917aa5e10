"""The webhook transport: one signed Standard Webhooks POST to a merchant's endpoint.

How a receiver's answer maps onto the error family (:mod:`outbox.transports`):

* 2xx: :class:`Sent`, with the first bytes of the answer;
* ``webhook-delivery: abort-message`` (any non-2xx status): :class:`ReceiverAborted`;
* 410 Gone: :class:`TargetGone`; the engine then disables the endpoint (:meth:`target_gone`);
* an address the SSRF guard refuses (checked again at send time, and at connect time on the
  address the socket is opened to, so DNS rebinding cannot slip past):
  :class:`PermanentError`, without calling it;
* anything else, timeouts and network errors included: :class:`TransportError`, carrying the
  ``Retry-After`` of a 429 or 503.

We read at most :data:`RESPONSE_READ_CAP` bytes of an answer (a receiver cannot make us download
a large body), through the pooled client of :mod:`outbox.transports.http`, which never follows
redirects (a redirect could point past the SSRF guard).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook

from outbox.crypto import secret_decrypt
from outbox.errors import UnsafeTarget
from outbox.models import Delivery, WebhookEndpoint
from outbox.ssrf import target_check
from outbox.transports import (
    PermanentError,
    ReceiverAborted,
    Sent,
    TargetGone,
    TransportError,
    parse_retry_after,
)
from outbox.transports.http import pooled_client

logger = logging.getLogger(__name__)

#: Bytes of a receiver's response we read and keep; the rest is never downloaded.
RESPONSE_READ_CAP = 4096
#: Concurrent webhook sends per worker process. More threads than this cost more CPU per
#: delivery in GIL contention (measured: 32 threads used ~60 % more CPU than 4 against a fast
#: receiver) while still covering receivers that take ~100 ms at a few hundred deliveries/s.
SEND_CONCURRENCY = 16

#: How the webhook client introduces itself to receivers.
USER_AGENT = "loyalty-platform-webhooks/1"


def webhook_body(delivery: Delivery) -> dict[str, Any]:
    """The JSON a delivery sends: the event's payload plus its stream position, if any.

    The same on every try and replay (payload and sequence never change), so the portal shows
    an attempt's body from here instead of storing a copy per attempt.
    """
    payload = delivery.event.payload
    if delivery.sequence is not None:
        # The stream position (CONTRACT "Merchant webhooks"), signed with the rest.
        payload = {**payload, "sequence": delivery.sequence}
    return payload


def webhook_body_text(payload: dict[str, Any]) -> str:
    """The exact text sent for ``payload`` (compact separators, UTF-8 kept)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def _signed_request(
    *, url: str, secrets: list[str], message_id: str, payload: dict[str, Any], request_id: str
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one message, signed with each of ``secrets`` (newest first).

    Standard Webhooks lets ``webhook-signature`` hold several space-separated ``v1,<sig>``
    entries; a receiver accepts the message when any one verifies, which is what lets a secret
    rotate with an overlap.
    """
    try:
        target_check(url)
    except UnsafeTarget as exc:
        raise PermanentError("UnsafeTarget", excerpt=exc.detail) from None
    body = webhook_body_text(payload)
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(Webhook(s).sign(message_id, now, body) for s in secrets),
    }
    if request_id:
        headers["x-request-id"] = request_id
    return body.encode(), headers


def _judge(status: int, headers: httpx.Headers, excerpt: str, duration_ms: int) -> Sent:
    """Turn a receiver's answer into :class:`Sent` or an error of the family."""
    if 200 <= status < 300:
        return Sent(status_code=status, duration_ms=duration_ms, excerpt=excerpt)
    if headers.get("webhook-delivery", "").lower() == "abort-message":
        raise ReceiverAborted("Aborted", status_code=status, excerpt=excerpt)
    if status == 410:
        raise TargetGone(
            "Gone", status_code=status, excerpt=excerpt, reason="receiver answered 410 Gone"
        )
    retry_after = parse_retry_after(headers.get("retry-after"))
    raise TransportError(
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
    previous_secrets: tuple[str, ...] = (),
) -> Sent:
    """POST one signed Standard Webhooks message; raise a :class:`TransportError` unless 2xx.

    ``previous_secrets``: secrets still in their rotation overlap; each adds a signature after
    the current one's.
    """
    started = time.perf_counter()
    body, headers = _signed_request(
        url=url,
        secrets=[secret, *previous_secrets],
        message_id=message_id,
        payload=payload,
        request_id=request_id,
    )
    client = pooled_client(USER_AGENT, guarded=True)
    sent_headers = {**headers, "user-agent": USER_AGENT}
    try:
        try:
            with client.stream("POST", url, content=body, headers=headers) as response:
                chunk = b""
                for part in response.iter_bytes():
                    chunk += part
                    if len(chunk) >= RESPONSE_READ_CAP:
                        break
                excerpt = chunk[:RESPONSE_READ_CAP].decode("utf-8", "replace")[:500]
                status, response_headers = response.status_code, response.headers
        except UnsafeTarget as exc:  # judged again at connect time, on the address actually used
            raise PermanentError("UnsafeTarget", excerpt=exc.detail) from None
        except httpx.HTTPError as exc:
            raise TransportError(exc.__class__.__name__) from None
        duration_ms = int((time.perf_counter() - started) * 1000)
        sent = _judge(status, response_headers, excerpt, duration_ms)
    except TransportError as exc:
        # Kept on the attempt row: what was sent, whatever the answer (or the lack of one).
        exc.request_headers = sent_headers
        raise
    return dataclasses.replace(sent, request_headers=sent_headers)


def endpoint_previous_secrets(
    endpoint: WebhookEndpoint, *, now: datetime | None = None
) -> tuple[str, ...]:
    """The replaced secret while its rotation overlap lasts, else nothing.

    Judged at send time, so the second signature stops at the overlap's end without any job.
    """
    expires = endpoint.previous_secret_expires_at
    if not endpoint.previous_secret_encrypted or expires is None:
        return ()
    if (now or datetime.now(UTC)) >= expires:
        return ()
    return (secret_decrypt(endpoint.previous_secret_encrypted),)


class WebhookTransport:
    """The ``webhook`` channel: the delivery's event, signed with its endpoint's secret."""

    provider = "merchant_webhook"
    concurrency = SEND_CONCURRENCY

    def send(self, delivery: Delivery) -> Sent:
        endpoint = delivery.endpoint
        if endpoint is None:  # the engine sends only to existing, enabled endpoints
            raise PermanentError("NoEndpoint", excerpt="delivery has no endpoint")
        event = delivery.event
        payload = webhook_body(delivery)
        return webhook_send(
            url=endpoint.url,
            secret=secret_decrypt(endpoint.secret_encrypted),
            previous_secrets=endpoint_previous_secrets(endpoint),
            message_id=event.message_id,
            payload=payload,
            request_id=event.request_id,
        )

    def target_gone(self, delivery: Delivery, *, reason: str) -> None:
        """Disable the endpoint: its deliveries end as dead, with the reason, until re-enabled."""
        if delivery.endpoint_id is None:
            return
        WebhookEndpoint.objects.filter(id=delivery.endpoint_id, is_enabled=True).update(
            is_enabled=False, disabled_reason=reason[:300]
        )
        logger.warning(
            "webhook endpoint disabled",
            extra={"endpoint_id": str(delivery.endpoint_id), "reason": reason},
        )
