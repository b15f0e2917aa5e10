"""Gunicorn settings for ``gunicorn config.wsgi:application -c config/gunicorn.py``.

Production: several sync workers with threads, binding 0.0.0.0:$PORT. The embedded run (no
REDIS_URL, as in ``make run``) uses one worker process that also hosts the relay and an
in-process Dramatiq worker, since an in-process broker cannot be shared between processes.
"""

from __future__ import annotations

import os
import shutil
import tempfile

_embedded = not os.environ.get("REDIS_URL")

bind = os.environ.get("BIND") or f"0.0.0.0:{os.environ.get('PORT', '8080')}"
workers = 1 if _embedded else int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "8" if _embedded else "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def on_starting(server: object) -> None:
    # Prometheus multiprocess mode: one fresh directory per server start (stale files from a
    # previous run would double-count).
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = os.path.join(tempfile.gettempdir(), f"loyalty-prom-{os.getpid()}")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def post_worker_init(worker: object) -> None:
    if _embedded:
        from config.embedded import embedded_delivery_start

        embedded_delivery_start()
