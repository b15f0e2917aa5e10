"""The pooled httpx clients of the transports: one per provider and process, built on first use.

Every transport calls out through one of these: timeouts of ``OUTBOX_HTTP_TIMEOUT_SECONDS``
(connecting at most 5 s), redirects never followed (a redirect could lead a webhook past the
SSRF guard, and the Bot API never redirects), connections kept alive between sends, and no
cookies: what one receiver sets is never stored, so it can neither reach another merchant's
endpoint on the same domain nor cost a parse per send (:class:`CookielessClient`).

A *guarded* client (the webhook transport's) opens every connection through
:class:`GuardedNetworkBackend`: the host is resolved once, every address is judged by
:func:`outbox.ssrf.host_resolve_checked`, and the socket goes to a judged address. httpcore
keeps the original name for the ``Host`` header, TLS SNI and certificate verification (it passes
the name, not the address, to ``start_tls``), so nothing changes for the receiver. Proxies from
the environment are ignored there: a proxy would make the connection on our behalf, unchecked.
"""

from __future__ import annotations

import ssl
import threading
import typing

import httpcore
import httpx
from django.conf import settings

from outbox.ssrf import host_resolve_checked

_lock = threading.Lock()
_clients: dict[tuple[str, bool], httpx.Client] = {}


class _NoCookies(httpx.Cookies):
    """An empty cookie jar that keeps nothing a response sets."""

    def extract_cookies(self, response: httpx.Response) -> None:
        del response


class CookielessClient(httpx.Client):
    """An httpx client without a cookie jar: the pooled clients are shared by every merchant
    (a cookie one receiver sets for its domain must not be sent to another merchant's endpoint
    there), and none of our calls out needs a cookie. httpx keeps every ``Set-Cookie`` by
    default and offers no switch; the client's public ``cookies`` property is overridden
    instead."""

    _empty = _NoCookies()

    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        return self._empty

    @cookies.setter
    def cookies(self, cookies: typing.Any) -> None:
        del cookies  # nothing is kept


class GuardedNetworkBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, connecting only to addresses the SSRF guard accepted.

    Raises :class:`outbox.errors.UnsafeTarget` (not an httpx error) when the name resolves to
    any refused address; with ``OUTBOX_ALLOW_PRIVATE_TARGETS=1`` it judges nothing but still
    connects to the addresses of its one resolution.
    """

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        allow_private = bool(settings.OUTBOX_ALLOW_PRIVATE_TARGETS)
        last_error: Exception | None = None
        for address in host_resolve_checked(host, port, allow_private=allow_private):
            try:
                return self._backend.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc  # try the next judged address, as create_connection would
        assert last_error is not None  # host_resolve_checked never returns an empty list
        raise last_error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are never a webhook target")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over a pool whose connections open through the guarded backend.

    httpx builds its pool without a ``network_backend`` argument, so the pool it built is
    replaced by the same pool (same limits, httpx's default SSL context) over our backend.
    """

    def __init__(self, *, limits: httpx.Limits, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(),
        )


def pooled_client(user_agent: str, *, guarded: bool = False) -> httpx.Client:
    """The process's client that introduces itself as ``user_agent``; ``guarded`` for URLs a
    merchant chose (connections go only to addresses the SSRF guard accepts)."""
    with _lock:
        client = _clients.get((user_agent, guarded))
        if client is None:
            timeout = settings.OUTBOX_HTTP_TIMEOUT_SECONDS
            limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
            client = _clients[user_agent, guarded] = CookielessClient(
                timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
                follow_redirects=False,
                limits=limits,
                headers={"user-agent": user_agent},
                transport=GuardedTransport(limits=limits) if guarded else None,
                trust_env=not guarded,
            )
        return client
