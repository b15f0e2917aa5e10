"""Operator alerts: a periodic check of the last full minute, sent to a Telegram chat.

:func:`alerts_check` runs in the relay (a periodic job; run it every ~15 s, each minute is
evaluated once even with several relays) and compares

* 5xx responses in the last full minute with ``ALERT_HTTP_5XX_PER_MIN``,
* responses slower than ``ALERT_HTTP_SLOW_THRESHOLD_MS`` in that minute with
  ``ALERT_HTTP_SLOW_PER_MIN`` (both counted by :mod:`platform_ops.alert_counters`),
* the growth of dead outbox deliveries since the previous check with ``ALERT_OUTBOX_DEAD_DELTA``.

A count reaching its threshold raises an alert. An alert is sent to ``ALERT_TELEGRAM_CHAT_ID``
through the Bot API (``TELEGRAM_API_BASE_URL``/bot``ALERT_TELEGRAM_BOT_TOKEN``/sendMessage) and
recorded in :class:`~platform_ops.models.Alert` (shown in the admin). Alerts share a
``fingerprint`` when they report the same condition; inside ``ALERT_COOLDOWN_SECONDS`` after one
was delivered, the same fingerprint is not sent again, only counted (``suppressed``). A send
that failed does not start the cooldown, so the next check tries again.

With PostgreSQL down
    Every check also probes the database (:func:`platform_ops.health.check_database`: short
    timeouts, its own connection) and raises ``database_unavailable`` when it does not answer
    (runbook 003, "database unavailable"). Sending never waits for the database: the cooldown
    is looked up in PostgreSQL when it answers and otherwise in the shared cache (then in this
    process's memory); an alert that could not be recorded in :class:`~platform_ops.models.Alert`
    is still sent, and logged with ``recorded: false``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import F, Q
from django.utils import timezone

from core.cache import cache_add, cache_delete, cache_get, cache_set
from outbox.metrics import external_result
from outbox.selectors import outbox_dead_count
from outbox.transports import Throttled, TransportError
from outbox.transports.telegram import BotApi
from platform_ops.alert_counters import HTTP_5XX, HTTP_SLOW, counter_read, last_sample, minute_of
from platform_ops.health import check_database
from platform_ops.models import Alert

logger = logging.getLogger(__name__)

#: How often the relay should call :func:`alerts_check` (seconds); a minute is evaluated once.
ALERTS_CHECK_INTERVAL_SECONDS = 15
#: Recorded instead of a send error when no alert chat is configured (counts for the cooldown).
NOT_CONFIGURED = "not sent: ALERT_TELEGRAM_BOT_TOKEN or ALERT_TELEGRAM_CHAT_ID is not set"
#: Longest Retry-After we wait for inside the relay before giving the send up until next check.
MAX_RETRY_AFTER_SECONDS = 5
SEND_TIMEOUT_SECONDS = 5.0
DEAD_BASELINE_KEY = "platform_ops:alerts:outbox_dead_baseline"

#: The baseline survives in memory when the cache is away.
_dead_baseline: dict[str, float] = {}
#: Cooldowns when PostgreSQL is away: fingerprint -> monotonic time the cooldown ends.
_fallback_cooldowns: dict[str, float] = {}
DATABASE_UNAVAILABLE = "database_unavailable"


@dataclass(frozen=True)
class AlertSend:
    delivered: bool
    error: str = ""


def alert_fingerprint(kind: str, *parts: str) -> str:
    return hashlib.sha256("|".join((kind, *parts)).encode()).hexdigest()[:32]


def alert_telegram_send(text: str) -> AlertSend:
    """One message to the alerts chat through the Bot API client, which never logs the token;
    honours one short Retry-After (at most :data:`MAX_RETRY_AFTER_SECONDS`)."""
    token, chat_id = settings.ALERT_TELEGRAM_BOT_TOKEN, settings.ALERT_TELEGRAM_CHAT_ID
    if not token or not chat_id:
        return AlertSend(delivered=False, error=NOT_CONFIGURED)
    bot = BotApi(str(token))
    body = {"chat_id": chat_id, "text": text[:4096], "disable_web_page_preview": True}
    for attempt in (1, 2):
        try:
            bot.call("sendMessage", body, timeout=SEND_TIMEOUT_SECONDS)
        except TransportError as failure:
            if failure.status_code is None:
                external_result("telegram", status_code=None, ok=False, error=True)
                return AlertSend(delivered=False, error=f"network error: {failure.error_class}")
            external_result("telegram", status_code=failure.status_code, ok=False)
            if (
                isinstance(failure, Throttled)
                and attempt == 1
                and failure.retry_after <= MAX_RETRY_AFTER_SECONDS
            ):
                time.sleep(failure.retry_after)
                continue
            return AlertSend(
                delivered=False, error=f"HTTP {failure.status_code}: {failure.excerpt[:200]}"
            )
        external_result("telegram", status_code=200, ok=True)
        return AlertSend(delivered=True)
    return AlertSend(delivered=False, error="rate limited")  # pragma: no cover (loop exits above)


def alert_raise(
    *, kind: str, message: str, value: float, threshold: float, fingerprint: str | None = None
) -> Alert | None:
    """Send and record an alert unless the same fingerprint is cooling down; returns the new
    row, or None when suppressed or when PostgreSQL is away (then sent, not recorded). Relays
    do not race here: each minute is evaluated by one relay only (:func:`alerts_check` claims
    it); the database probe's alert dedupes through the shared cache."""
    fingerprint = fingerprint or alert_fingerprint(kind)
    try:
        cooling = _cooling_down_recorded(fingerprint)
    except DatabaseError:
        connections["default"].close()
        _alert_raise_unrecorded(kind=kind, message=message, value=value, fingerprint=fingerprint)
        return None
    if cooling:
        logger.info("alert suppressed (cooldown)", extra={"kind": kind, "fingerprint": fingerprint})
        return None
    sent = alert_telegram_send(message)
    try:
        alert = Alert.objects.create(
            fingerprint=fingerprint,
            kind=kind,
            message=message,
            value=value,
            threshold=threshold,
            delivered=sent.delivered,
            error=sent.error[:300],
        )
    except DatabaseError:  # the database went away between the lookup and the record
        connections["default"].close()
        _log_sent(kind=kind, value=value, sent=sent, recorded=False)
        return None
    _log_sent(kind=kind, value=value, sent=sent, recorded=True)
    return alert


def _cooling_down_recorded(fingerprint: str) -> bool:
    """Whether a recorded alert of this fingerprint is cooling down (counts the suppression)."""
    cutoff = timezone.now() - timedelta(seconds=settings.ALERT_COOLDOWN_SECONDS)
    recent = (
        Alert.objects.filter(fingerprint=fingerprint, sent_at__gte=cutoff)
        .filter(Q(delivered=True) | Q(error=NOT_CONFIGURED))
        .order_by("-sent_at")
        .values_list("id", flat=True)
        .first()
    )
    if recent is None:
        return False
    Alert.objects.filter(id=recent).update(suppressed=F("suppressed") + 1)
    return True


def _alert_raise_unrecorded(*, kind: str, message: str, value: float, fingerprint: str) -> None:
    """PostgreSQL is away: the cooldown lives in the shared cache (else in memory); the alert
    is sent and logged, not recorded."""
    cooldown = settings.ALERT_COOLDOWN_SECONDS
    claimed = cache_add(f"platform_ops:alerts:cooldown:{fingerprint}", 1, max(cooldown, 1))
    if claimed is None:  # cache away too: this process's memory
        now = time.monotonic()
        claimed = _fallback_cooldowns.get(fingerprint, 0.0) <= now
        if claimed:
            _fallback_cooldowns[fingerprint] = now + cooldown
    if not claimed:
        logger.info("alert suppressed (cooldown)", extra={"kind": kind, "fingerprint": fingerprint})
        return None
    sent = alert_telegram_send(message)
    if not sent.delivered:  # a failed send must not start the cooldown
        cache_delete(f"platform_ops:alerts:cooldown:{fingerprint}")
        _fallback_cooldowns.pop(fingerprint, None)
    _log_sent(kind=kind, value=value, sent=sent, recorded=False)
    return None


def _log_sent(*, kind: str, value: float, sent: AlertSend, recorded: bool) -> None:
    if sent.delivered:
        logger.warning("alert sent", extra={"kind": kind, "value": value, "recorded": recorded})
    else:
        logger.error(
            "alert not delivered",
            extra={"kind": kind, "value": value, "error": sent.error, "recorded": recorded},
        )


def _claim(key: str, timeout: int) -> bool:
    """Atomic claim in the shared cache; with the cache away, every relay may go ahead."""
    return cache_add(key, 1, timeout) is not False


def _minute_label(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%H:%M UTC")


def _sample_line() -> str:
    sample = last_sample()
    if not sample:
        return ""
    return (
        f"\nlast sampled: {sample.get('method')} {sample.get('route')} -> {sample.get('status')} "
        f"({sample.get('duration_ms')} ms, request id {sample.get('request_id')})"
    )


def _dead_growth(minute: int) -> tuple[int, int] | None:
    """(growth, current) of dead deliveries since the previous check; None on the first one."""
    current = outbox_dead_count()
    baseline = cache_get(DEAD_BASELINE_KEY) or dict(_dead_baseline) or None
    state = {"count": current, "minute": minute}
    _dead_baseline.update(state)
    cache_set(DEAD_BASELINE_KEY, state, 24 * 3600)
    if baseline is None:
        return None
    return current - int(baseline["count"]), current


def alerts_check(*, now: float | None = None) -> list[Alert]:
    """Evaluate the last full minute once (across relays) and raise what crosses a threshold.

    The periodic job of the relay; returns the alerts sent or attempted.
    """
    minute = minute_of(time.time() if now is None else now) - 1
    # Every check, before the minute's claim: a database outage is news at once, and sending
    # it never needs the database (see the module's docstring). The fingerprint dedupes.
    raised: list[Alert | None] = []
    try:
        check_database()
    except Exception as exc:  # the probe's failure is the finding
        raised.append(
            alert_raise(
                kind=DATABASE_UNAVAILABLE,
                value=1,
                threshold=1,
                message=f"[CRITICAL] database unavailable ({exc.__class__.__name__}; the "
                "relay's probe failed). Runbook: docs/operations.md#database-unavailable-or-slow "
                "(docker exec postgres pg_isready; GET /db/health).",
            )
        )
    if not _claim(f"platform_ops:alerts:minute:{minute}", timeout=3600):
        return [alert for alert in raised if alert is not None]
    label = _minute_label(minute)
    errors = counter_read(HTTP_5XX, minute)
    if errors >= settings.ALERT_HTTP_5XX_PER_MIN:
        raised.append(
            alert_raise(
                kind=HTTP_5XX,
                value=errors,
                threshold=settings.ALERT_HTTP_5XX_PER_MIN,
                message=f"[CRITICAL] {errors} HTTP 5xx responses in the minute {label} "
                f"(threshold {settings.ALERT_HTTP_5XX_PER_MIN}/min){_sample_line()}",
            )
        )
    slow = counter_read(HTTP_SLOW, minute)
    if slow >= settings.ALERT_HTTP_SLOW_PER_MIN:
        raised.append(
            alert_raise(
                kind=HTTP_SLOW,
                value=slow,
                threshold=settings.ALERT_HTTP_SLOW_PER_MIN,
                message=f"[WARNING] {slow} HTTP requests slower than "
                f"{settings.ALERT_HTTP_SLOW_THRESHOLD_MS} ms in the minute {label} "
                f"(threshold {settings.ALERT_HTTP_SLOW_PER_MIN}/min)",
            )
        )
    try:
        growth = _dead_growth(minute)
    except Exception as exc:  # database away: the HTTP alerts above still went out
        logger.warning("dead deliveries not counted", extra={"error": exc.__class__.__name__})
        growth = None
    if growth is not None and growth[0] >= settings.ALERT_OUTBOX_DEAD_DELTA:
        raised.append(
            alert_raise(
                kind="outbox_dead",
                value=growth[0],
                threshold=settings.ALERT_OUTBOX_DEAD_DELTA,
                message=f"[CRITICAL] {growth[0]} outbox deliveries went dead since the previous "
                f"check ({growth[1]} dead in total; threshold {settings.ALERT_OUTBOX_DEAD_DELTA}). "
                "Admin > Outbox deliveries, filter status=dead; replay after fixing the cause.",
            )
        )
    return [alert for alert in raised if alert is not None]
