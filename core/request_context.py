"""The current request id, carried from the API into outbox rows, workers and webhook headers.

:class:`RequestContextMiddleware` takes the client's ``X-Request-ID`` when it is sane (at most 64
of ``[A-Za-z0-9._-]``) or makes one, exposes it through :func:`current_request_id` for the
request (the JSON log formatter and ``outbox_event_record`` read it), echoes it in the response
and writes one JSON access log line per request.
"""

from __future__ import annotations

import contextvars
import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
#: The operations endpoints (CONTRACT): never blocked by a mode, logged quietly when fine.
OPERATIONS_PATHS = frozenset({"/health", "/healthz", "/live", "/ready", "/db/health", "/metrics"})
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

access_logger = logging.getLogger("platform_ops.access")


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> contextvars.Token[str | None]:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token[str | None]) -> None:
    _request_id.reset(token)


def request_id_for(incoming: str | None) -> str:
    """The client's id when it is safe to log and forward, else a fresh one."""
    if incoming and _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def route_of(request: HttpRequest) -> str:
    """The URL pattern that matched (``/api/.../customers/<uuid:customer_id>``), never the raw
    path: ids and query strings (phone numbers) stay out of logs and labels."""
    match = getattr(request, "resolver_match", None)
    if match is None or match.route is None:
        return "unmatched"
    return "/" + match.route


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    networks = getattr(settings, "TRUSTED_PROXY_NETWORKS", ())
    return any(ip in network for network in networks)


def client_address(request: HttpRequest) -> str:
    """The client's address for the access log: ``REMOTE_ADDR``, unless that is one of the
    configured proxies (``TRUSTED_PROXIES``); then the nearest ``X-Forwarded-For`` entry that
    is not a trusted proxy. A header from anyone else is ignored (it is trivially forged)."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    if not _trusted(remote):
        return remote
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([part for part in forwarded if part]):
        if not _trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return remote  # garbage in the header: keep the proxy's own address
    return remote


class RequestContextMiddleware:
    """Request id in, request id out, one access log line."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        token = set_request_id(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            status = response.status_code
            # Probes hit the operations endpoints every few seconds: only their failures are news.
            quiet = status < 400 and request.path_info in OPERATIONS_PATHS
            level = logging.DEBUG if quiet else logging.INFO
            if not access_logger.isEnabledFor(level):
                return response
            access_logger.log(
                level,
                "%s %s %s",
                request.method,
                route_of(request),
                status,
                extra={
                    "method": request.method,
                    "route": route_of(request),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "client": client_address(request),
                },
            )
            return response
        finally:
            reset_request_id(token)
