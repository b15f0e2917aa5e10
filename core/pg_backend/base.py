"""Django's PostgreSQL backend; only the per-request connection health check differs.

With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before the first query of every request
that reuses a connection: one more round trip on each of the API's calls (a hot read is two
statements; the bare app it is measured against sends none, issue 16). A connection the server
ended (a restart, ``pg_terminate_backend``, PgBouncer going away) has something to read on its
socket: the server's error message, or the end of the stream. So the check first asks the
socket, without waiting: nothing to read, and the connection is neither closed nor broken on
the client side, means usable. Anything to read, or a request that had a database error, takes
Django's ``SELECT 1``. What neither can tell in time is a peer that vanished without a word (a
cut network path): ``SELECT 1`` would hang as the request's own first query does, until the
TCP keepalive or the statement timeout ends it.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        conn = self.connection
        if conn is None or conn.closed or conn.broken:
            return False
        if not self.errors_occurred and not self.in_atomic_block:
            # poll, not select: select refuses descriptors above 1023, which a busy process
            # with many sockets reaches. Any event (data, hang-up, error) takes the full check.
            poller = select.poll()
            try:
                poller.register(conn.fileno(), select.POLLIN | select.POLLPRI)
            except (OSError, ValueError):
                return False
            if not poller.poll(0):
                return True
        usable: bool = super().is_usable()
        return usable
