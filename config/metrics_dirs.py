"""Per-process Prometheus multiprocess directories under one shared root (``METRICS_SHARED_DIR``).

prometheus_client names its files ``<type>_<pid>.db``; pids repeat across containers (each
container's first process is pid 1), so co-located processes cannot write into one flat
directory. Each top-level process (gunicorn master, ``rundramatiq``, ``outbox_relay``) claims
``<root>/<hostname>-<pid>`` instead, and its children inherit it through
``PROMETHEUS_MULTIPROC_DIR``. The api's ``/metrics`` merges the files of every subdirectory.

A claim first empties its own subdirectory (a restarted container has the same hostname and,
as pid 1, the same pid: its old files would be reused) and removes sibling subdirectories of
the same host whose process is gone (same host, same pid namespace, so the check is sound).
Subdirectories of removed containers (a redeploy creates new ones) keep their counters in the
sums, as the files of a dead gunicorn worker do, so totals never drop; the few kilobytes each
leaves are removed with the directory's contents when the stack is down (docs/operations.md,
Monitoring).

Imports nothing of Django: the settings module and ``config/gunicorn.py`` call it.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def metrics_dir_claim(root: str, *, pid: int | None = None) -> str:
    """Create (empty) this process's subdirectory of ``root`` and return its path."""
    pid = os.getpid() if pid is None else pid
    host = socket.gethostname() or "host"
    base = Path(root)
    base.mkdir(parents=True, exist_ok=True)
    for sibling in base.glob(f"{host}-*"):
        suffix = sibling.name[len(host) + 1 :]
        if suffix.isdigit() and int(suffix) != pid and not _alive(int(suffix)):
            shutil.rmtree(sibling, ignore_errors=True)
    own = base / f"{host}-{pid}"
    shutil.rmtree(own, ignore_errors=True)
    own.mkdir(parents=True, exist_ok=True)
    return str(own)
