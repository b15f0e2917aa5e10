"""The pooled httpx clients of the transports: one per provider and process, built on first use.

Every transport calls out through one of these: timeouts of ``OUTBOX_HTTP_TIMEOUT_SECONDS``
(connecting at most 5 s), redirects never followed (a redirect could lead a webhook past the
SSRF guard, and the Bot API never redirects), and connections kept alive between sends.
"""

from __future__ import annotations

import threading

import httpx
from django.conf import settings

_lock = threading.Lock()
_clients: dict[str, httpx.Client] = {}


def pooled_client(user_agent: str) -> httpx.Client:
    """The process's client that introduces itself as ``user_agent``."""
    with _lock:
        client = _clients.get(user_agent)
        if client is None:
            timeout = settings.OUTBOX_HTTP_TIMEOUT_SECONDS
            client = _clients[user_agent] = httpx.Client(
                timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
                follow_redirects=False,
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
                headers={"user-agent": user_agent},
            )
        return client
