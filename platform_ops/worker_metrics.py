"""``bot_memory_usage_bytes{process="worker"}`` from every Dramatiq worker process.

A Dramatiq middleware (listed in ``DRAMATIQ_BROKER["MIDDLEWARE"]``, config/settings.py): each
worker process records its resident memory when it has booted and after every message it
processed, into its multiprocess files (under ``METRICS_SHARED_DIR`` the api's ``/metrics``
merges them, platform_ops/metrics.py). On a graceful shutdown the process removes its live
gauge file, so a stopped worker's last figure does not linger (``liveall`` mode, one sample per
pid). The api and other processes that only enqueue never run these hooks.
"""

from __future__ import annotations

import os
from typing import Any

import dramatiq
from prometheus_client import multiprocess

from platform_ops.heartbeat import process_memory_record

WORKER_PROCESS_KIND = "worker"


class ProcessMemoryMiddleware(dramatiq.Middleware):  # type: ignore[misc]
    """Records the worker process's RSS in ``bot_memory_usage_bytes`` (runbook 004)."""

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        process_memory_record(WORKER_PROCESS_KIND)

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        process_memory_record(WORKER_PROCESS_KIND)

    def after_skip_message(self, broker: Any, message: Any) -> None:
        process_memory_record(WORKER_PROCESS_KIND)

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
