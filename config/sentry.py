"""Error reports to Sentry when ``SENTRY_DSN`` is set (api, relay, workers), secrets scrubbed.

Nothing is sent without a DSN. With one, ``sentry_sdk`` reports unhandled exceptions and
``logger.exception`` lines (Django and logging integrations; no performance tracing, no
personal data: ``send_default_pii=False``). Before an event leaves the process:

* the SDK's own scrubber removes the usual names (``password``, ``secret``, ``token``,
  ``authorization``, cookies, ...) plus ours (:data:`EXTRA_DENYLIST`) from request data,
  headers and local variables;
* :func:`scrub_event` drops the query string and cookies outright (phone numbers travel in
  query strings) and replaces every occurrence of a configured secret value (``SECRET_KEY``,
  Telegram tokens and webhook secret, ``METRICS_TOKEN``, the database password) anywhere in
  the event by ``[Filtered]``: a secret that reached an exception message or a variable with
  an innocent name is caught too.
"""

from __future__ import annotations

from typing import Any

#: Our names of secrets, on top of sentry_sdk's DEFAULT_DENYLIST.
EXTRA_DENYLIST = [
    "x_metrics_token",
    "x-metrics-token",
    "x_telegram_bot_api_secret_token",
    "x-telegram-bot-api-secret-token",
    "x_api_key",
    "x-api-key",
    "api_key",
    "webhook_secret",
    "secret_encrypted",
    "bot_token",
    "metrics_token",
]
FILTERED = "[Filtered]"


def _replace(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, FILTERED)
        return value
    if isinstance(value, dict):
        return {key: _replace(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace(item, secrets) for item in value]
    if isinstance(value, tuple):
        return tuple(_replace(item, secrets) for item in value)
    return value


def scrub_event(event: dict[str, Any], secrets: list[str]) -> dict[str, Any]:
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("query_string", None)
        request.pop("cookies", None)
        if isinstance(request.get("url"), str):
            request["url"] = request["url"].split("?", 1)[0]
    return _replace(event, [s for s in secrets if s and len(s) >= 6])


def sentry_init(*, dsn: str, secrets: list[str], environment: str | None = None) -> None:
    """Start the SDK for this process (settings call it once, when SENTRY_DSN is set)."""
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber

    def before_send(event: Any, hint: Any) -> Any:
        return scrub_event(event, secrets)

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration()],
        send_default_pii=False,
        traces_sample_rate=0.0,
        event_scrubber=EventScrubber(denylist=[*DEFAULT_DENYLIST, *EXTRA_DENYLIST]),
        before_send=before_send,
    )
