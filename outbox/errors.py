"""Errors of the outbox that a client may see (merchant URLs refused by the SSRF guard)."""

from __future__ import annotations

from core.errors import ApplicationError


class UnsafeTarget(ApplicationError):
    """A merchant URL resolves to an address we refuse to call (SSRF guard)."""

    status = 400
    slug = "unsafe-target"
    title = "Target URL not allowed"
