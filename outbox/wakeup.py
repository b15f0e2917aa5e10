"""Waking the relay right after a commit, with polling as the fallback.

On PostgreSQL the nudge is ``NOTIFY outbox_due`` issued inside the writing transaction: PostgreSQL
delivers it only if and when that transaction commits, so a relay never wakes for a rolled-back
write and never misses a committed one it could have seen. The embedded (SQLite) run has one
process, so a :class:`threading.Event` set by ``transaction.on_commit`` does the same job.

``LISTEN`` belongs to a session, which PgBouncer in transaction-pooling mode does not give: it
lends a server connection per transaction, and notifications for a ``LISTEN`` issued through it
reach whichever client holds that connection next, or nobody. So the listener connects to
``RELAY_DATABASE_URL`` (PostgreSQL itself) when that is set. ``NOTIFY`` may go through PgBouncer:
it is part of the writing transaction and PostgreSQL sends it on commit.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import select
import threading
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection, connections, transaction

logger = logging.getLogger(__name__)

CHANNEL = "outbox_due"
_local_event = threading.Event()


def notify_on_commit() -> None:
    """Ask the relay to look for due rows once the current transaction commits."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [CHANNEL])
    else:
        transaction.on_commit(_local_event.set)


def relay_database_settings() -> dict[str, Any] | None:
    """``RELAY_DATABASE_URL`` as a complete Django database entry (defaults filled in), or None."""
    if settings.RELAY_DATABASE is None:
        return None
    entry = copy.deepcopy(settings.RELAY_DATABASE)
    configured: dict[str, Any] = connections.configure_settings({"default": entry})["default"]
    return configured


class Listener:
    """Blocks until a nudge arrives or ``timeout`` passes; reconnects after errors."""

    def __init__(self) -> None:
        self._conn: psycopg.Connection | None = None

    def _connect(self) -> psycopg.Connection | None:
        db = connections["default"]
        if db.vendor != "postgresql":
            return None
        direct = relay_database_settings()
        if direct is not None:
            db = type(db)(direct, alias="outbox_listener")
        params = db.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        conn = psycopg.connect(**params, autocommit=True)
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def wait(self, timeout: float) -> bool:
        """Return True when woken by a nudge, False on timeout."""
        if connections["default"].vendor != "postgresql":
            woke = _local_event.wait(timeout)
            _local_event.clear()
            return woke
        try:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
            assert self._conn is not None
            ready, _, _ = select.select([self._conn.fileno()], [], [], timeout)
            if not ready:
                return False
            self._take(self._conn)
            return True
        except (psycopg.Error, OSError, ValueError) as exc:
            logger.warning("outbox listener lost its connection: %s", exc.__class__.__name__)
            self.close()
            threading.Event().wait(min(timeout, 1.0))
            return False

    def drain(self) -> None:
        """Take the nudges that arrived meanwhile, without waiting (the pass about to run sees
        the rows they announce)."""
        if self._conn is None or self._conn.closed:
            _local_event.clear()
            return
        try:
            self._take(self._conn)
        except (psycopg.Error, OSError, ValueError):
            self.close()

    @staticmethod
    def _take(conn: psycopg.Connection) -> None:
        """Consume the notifications already received on ``conn``."""
        for _ in conn.notifies(timeout=0, stop_after=1000):
            pass

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None
