"""Every Django query timed into ``db_query_duration_seconds``; slow ones logged with their SQL.

The observer is a ``connection.execute_wrapper`` installed on each database connection when it
opens (``connection_created``), so it covers the api, the relay, the Dramatiq workers and
management commands alike, without per-request setup. A query slower than ``DB_SLOW_QUERY_MS``
(0 turns the log off) is logged with its SQL *template*: values stay ``%s`` placeholders and the
parameters are never logged (they carry phone numbers and other customer data).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper

from platform_ops.metrics import DB_QUERY_DURATION

logger = logging.getLogger(__name__)

#: Longest SQL text put in one log line.
MAX_SQL_CHARS = 2000


def query_observe(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        elapsed = time.perf_counter() - started
        DB_QUERY_DURATION.observe(elapsed)
        threshold_ms = settings.DB_SLOW_QUERY_MS
        if threshold_ms and elapsed * 1000 >= threshold_ms:
            logger.warning(
                "slow query (%.0f ms)",
                elapsed * 1000,
                extra={
                    "duration_ms": round(elapsed * 1000, 1),
                    "sql": str(sql)[:MAX_SQL_CHARS],
                    "executemany": many,
                    "database": context["connection"].alias,
                },
            )


def query_observer_install(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created`` receiver; the wrapper list outlives reconnects, so add it once."""
    if query_observe not in connection.execute_wrappers:
        connection.execute_wrappers.append(query_observe)
