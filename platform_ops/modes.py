"""Maintenance, read-only and degraded-schema modes, enforced by one middleware.

* Maintenance (``MAINTENANCE_MODE=1`` or the admin switch): every request but the operations
  endpoints and the admin gets 503 problem+json with ``Retry-After``.
* Read-only (``READ_ONLY_MODE=1`` or the admin switch): only GET/HEAD/OPTIONS pass; writes get
  503 problem+json. Operations endpoints and the admin still work; workers keep delivering.
* Schema behind the code (runbook 003): writes outside the operations endpoints get 503
  problem+json ("deploy in progress") instead of the 500s a missing column would cause, while
  reads, /health, /live and an honest /ready (503) still answer.

The admin stays reachable in maintenance and read-only so that staff can switch the modes off.

The Telegram webhook (``POST /api/telegram/webhook``, :data:`TELEGRAM_WEBHOOK_PATH`) passes in
every mode, schema-degraded included: updates are always accepted and stored (CONTRACT
"Modes"), and the bot itself answers with a short notice in maintenance and refuses writes
politely in read-only mode (``notifications/bot.py``, "Modes"). Its own secret check still
guards it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core.problems import problem_response
from core.request_context import OPERATIONS_PATHS
from core.schema import schema_behind_cached
from platform_ops.selectors import site_modes_current

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Always served: Telegram must be able to deliver updates whatever the mode.
TELEGRAM_WEBHOOK_PATH = "/api/telegram/webhook"
#: Seconds a client should wait before trying again, per mode.
MAINTENANCE_RETRY_AFTER = 120
READ_ONLY_RETRY_AFTER = 60
SCHEMA_RETRY_AFTER = 30


def is_operations_path(path: str) -> bool:
    return path in OPERATIONS_PATHS or (path.endswith("/") and path[:-1] in OPERATIONS_PATHS)


def is_staff_path(path: str) -> bool:
    """The admin and the static files its pages need."""
    static = "/" + settings.STATIC_URL.lstrip("/")
    return path == "/admin" or path.startswith("/admin/") or path.startswith(static)


def _refusal(*, slug: str, title: str, detail: str, retry_after: int) -> HttpResponse:
    return problem_response(
        status_code=503,
        slug=slug,
        title=title,
        detail=detail,
        headers={"Retry-After": str(retry_after)},
    )


class SiteModeMiddleware:
    """Refuses what the current mode forbids, before sessions, auth or any view run."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if is_operations_path(path) or path.rstrip("/") == TELEGRAM_WEBHOOK_PATH:
            return self.get_response(request)
        is_write = request.method not in SAFE_METHODS
        if not is_staff_path(path):
            modes = site_modes_current()
            if modes.maintenance:
                return _refusal(
                    slug="maintenance",
                    title="Service under maintenance",
                    detail="The service is in maintenance mode. Try again later; "
                    "Retry-After says when (seconds).",
                    retry_after=MAINTENANCE_RETRY_AFTER,
                )
            if modes.read_only and is_write:
                return _refusal(
                    slug="read-only",
                    title="Service is read-only",
                    detail=f"Writes are paused (read-only mode); {request.method} is refused, "
                    "reads work. Try the write again later.",
                    retry_after=READ_ONLY_RETRY_AFTER,
                )
        if is_write and schema_behind_cached():
            return _refusal(
                slug="schema-behind",
                title="Deploy in progress",
                detail="The database schema is behind the code (a deploy is in progress); writes "
                "are refused until the migrations are applied. Try again later.",
                retry_after=SCHEMA_RETRY_AFTER,
            )
        return self.get_response(request)
