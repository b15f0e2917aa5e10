"""Gunicorn settings for ``gunicorn config.wsgi:application -c config/gunicorn.py``.

Production: several sync workers with threads, binding 0.0.0.0:$PORT. The embedded run (no
REDIS_URL, as in ``make run``) uses one worker process that also hosts the relay and an
in-process Dramatiq worker, since an in-process broker cannot be shared between processes.

Variables are read through :data:`config.env.env` (no Django set-up needed), so a malformed
one stops the server with the same one line as ``manage.py`` and the workers.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from django.core.exceptions import ImproperlyConfigured

from config.env import env

try:
    _embedded = env.str("REDIS_URL", None) is None
    bind = env.str("BIND", None) or f"0.0.0.0:{env.int('PORT', 8080, minimum=1)}"
    workers = 1 if _embedded else env.int("WEB_CONCURRENCY", 3, minimum=1)
    threads = env.int("GUNICORN_THREADS", 8 if _embedded else 4, minimum=1)
    timeout = env.int("GUNICORN_TIMEOUT", 30, minimum=0)
    loglevel = env.str("LOG_LEVEL", "info").lower()
except ImproperlyConfigured as exc:
    # gunicorn would print a traceback for an exception here; SystemExit passes through it.
    sys.exit(f"configuration error: {exc}")
graceful_timeout = 20
keepalive = 5
accesslog = None
errorlog = "-"


def on_starting(server: object) -> None:
    # Prometheus multiprocess mode: one fresh directory per server start (stale files from a
    # previous run would double-count). Set in the environment before any worker starts, so
    # that prometheus_client and settings.PROMETHEUS_MULTIPROC_DIR in every worker see it.
    directory = env.str("PROMETHEUS_MULTIPROC_DIR", None)
    # --- oncall: shared metrics directory (config/metrics_dirs.py, issue 13) ---
    shared = env.str("METRICS_SHARED_DIR", None)
    if not directory and shared:
        from config.metrics_dirs import metrics_dir_claim

        directory = metrics_dir_claim(shared)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    # --- end oncall ---
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
