"""The transport interface: how the outbox engine hands one delivery to its provider.

A transport sends one delivery and either returns :class:`Sent` or raises one of the small error
family below. The error says *what happened* (the target was gone, the provider asked us to slow
down, nothing was sent at all); it never decides what that does to the delivery or the target.
That is the engine's job, in one place (``outbox.engine``), for every channel alike.

Transports are found by channel through :func:`transport_for`, from the ``OUTBOX_TRANSPORTS``
setting (channel -> import path of a class): the outbox core knows no provider beyond its own
webhooks, and a channel such as the customer bot plugs in from a layer above without the outbox
importing it (STYLE: layers).

Decisions:

* One exception family with class-level meaning (healthchecks' ``TransportError`` with a
  ``permanent`` flag, a subclass per special case) instead of one exception with booleans: a
  case is a class, so the engine's table of effects is an ``isinstance`` ladder that can be read
  top to bottom, and a transport cannot set a contradictory combination.
* ``error_class`` is the short name recorded on the attempt row (``HTTP500``, ``ReadTimeout``,
  ``TelegramRetryAfter``); it is also the exception's message.
* Nothing a transport raises may contain a secret (a bot token in a URL, a signing secret):
  errors end up in ``Attempt.response_excerpt``, ``Delivery.last_error``, logs and the admin.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import TYPE_CHECKING, ClassVar, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from outbox.models import Delivery

#: Longest Retry-After we honour from a receiver or the Bot API, in seconds.
RETRY_AFTER_CAP = 3600


@dataclass(frozen=True)
class Sent:
    """A try that reached its target: the answer's status and how long the provider took."""

    status_code: int | None
    #: The provider call itself (not the rate limiter's wait or the SSRF lookup before it).
    duration_ms: int
    #: The start of the receiver's answer, kept on the attempt row.
    excerpt: str = ""
    #: The request's headers as sent (no secret among them), kept on the attempt row.
    request_headers: Mapping[str, str] = field(default_factory=dict)


class TransportError(Exception):
    """A try that did not deliver; retried on the delivery's schedule (timeouts, network
    errors, 5xx, and 4xx with fewer tries: :mod:`outbox.policy`)."""

    #: No further try of this delivery makes sense (the delivery ends: :mod:`outbox.policy`).
    permanent: ClassVar[bool] = False

    def __init__(
        self,
        error_class: str,
        *,
        status_code: int | None = None,
        excerpt: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(error_class)
        self.error_class = error_class
        #: The provider's HTTP status; None when no answer came (network error, timeout).
        self.status_code = status_code
        #: A short, secret-free excerpt of the answer or the reason.
        self.excerpt = excerpt
        #: Seconds the provider asked us to wait (Retry-After); the next try waits exactly that.
        self.retry_after = retry_after
        #: The request's headers, when one was sent (set by the transport that sent it).
        self.request_headers: Mapping[str, str] = {}


class PermanentError(TransportError):
    """The message can never be delivered as it is (unsafe URL, no chat, no template): the
    delivery is dead at once; a replay after fixing the cause sends it again."""

    permanent = True


class ReceiverAborted(PermanentError):
    """The receiver answered ``webhook-delivery: abort-message``: dead at once, and not held
    against the endpoint, which answered and chose to refuse this one message."""


class TargetGone(PermanentError):
    """The target no longer exists (webhook 410 Gone; Telegram 403, the user blocked the bot):
    the delivery is dead at once and the engine asks the transport to retire the target
    (:meth:`Transport.target_gone`), so that it gets no more deliveries."""

    def __init__(
        self,
        error_class: str,
        *,
        reason: str,
        status_code: int | None = None,
        excerpt: str = "",
    ) -> None:
        super().__init__(error_class, status_code=status_code, excerpt=excerpt)
        #: Why the target is retired, in words an operator reads (the endpoint's disabled reason).
        self.reason = reason


class Throttled(TransportError):
    """The provider asked us to slow down (Telegram's 429 with ``retry_after``): the try is
    recorded, the next one waits exactly ``retry_after`` and uses no step of the retry
    schedule, so a busy provider never kills a message."""

    retry_after: float

    def __init__(
        self,
        error_class: str,
        *,
        retry_after: float,
        status_code: int | None = None,
        excerpt: str = "",
    ) -> None:
        super().__init__(
            error_class, status_code=status_code, excerpt=excerpt, retry_after=retry_after
        )


class Deferred(TransportError):
    """Nothing was sent (our own rate limiter had no slot in time, or the lease is too short
    for a send): no attempt is recorded and no failure counted; the delivery goes back to
    pending for ``retry_after`` seconds."""

    retry_after: float

    def __init__(self, error_class: str, *, retry_after: float, excerpt: str = "") -> None:
        super().__init__(error_class, excerpt=excerpt, retry_after=retry_after)


class Transport(Protocol):
    """What a channel's transport gives the engine. One instance serves every thread of a
    process, so it keeps no per-delivery state."""

    #: ``provider`` label of ``external_requests_total`` for this channel's calls.
    provider: str
    #: Concurrent sends per worker process; each channel gets its own thread pool, so a
    #: channel whose sends wait (the Telegram rate limiter) never holds up another.
    concurrency: int

    def send(self, delivery: Delivery) -> Sent:
        """Try the delivery once; raise a :class:`TransportError` unless it arrived."""

    def target_gone(self, delivery: Delivery, *, reason: str) -> None:
        """Retire the delivery's target after a :class:`TargetGone` (idempotent)."""


def transport_for(channel: str) -> Transport:
    """The transport of a delivery channel, per ``OUTBOX_TRANSPORTS`` (built once per process)."""
    transports = _transports()
    try:
        return transports[channel]
    except KeyError:
        raise ImproperlyConfigured(
            f"OUTBOX_TRANSPORTS has no transport for the channel {channel!r}"
        ) from None


@cache
def _transports() -> dict[str, Transport]:
    paths: dict[str, str] = settings.OUTBOX_TRANSPORTS
    return {channel: import_string(path)() for channel, path in paths.items()}


def parse_retry_after(value: object) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date) or the Bot API's
    ``parameters.retry_after`` (a number); None when absent or unreadable; capped at
    :data:`RETRY_AFTER_CAP` and never negative (a date in the past means now)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value:
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
            except (TypeError, ValueError):
                return None
    else:
        return None
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)
