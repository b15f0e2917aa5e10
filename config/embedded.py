"""The embedded run's delivery: relay thread and Dramatiq worker inside the web process.

Used by ``make run`` (SQLite, no Redis): the broker is Dramatiq's in-process StubBroker, so the
relay and the worker must live in the process that serves the API. Part of the composition
root: it starts what every app registered (the actors django_dramatiq discovered in each app's
``actors`` module, the periodic jobs of ``PERIODIC_JOBS``).
"""

from __future__ import annotations

import logging
import threading

import dramatiq
from dramatiq import Worker

logger = logging.getLogger(__name__)
_started = threading.Lock()
_handles: dict[str, object] = {}


def embedded_delivery_start(*, worker_threads: int = 4) -> None:
    """Start once per process; safe to call again."""
    if not _started.acquire(blocking=False):
        return

    from django.conf import settings
    from django.utils.module_loading import autodiscover_modules

    from core.jobs import periodic_jobs
    from outbox.actors import enqueue
    from outbox.relay import Relay

    # Every app's actors declared on the broker before the worker starts consuming (what
    # rundramatiq does for a standalone worker).
    autodiscover_modules(*settings.DRAMATIQ_AUTODISCOVER_MODULES)
    broker = dramatiq.get_broker()
    worker = Worker(broker, worker_threads=worker_threads, worker_timeout=100)
    worker.start()
    relay = Relay(enqueue=enqueue, jobs=periodic_jobs())
    thread = threading.Thread(target=relay.run_forever, name="outbox-relay", daemon=True)
    thread.start()
    _handles.update(worker=worker, relay=relay, thread=thread)
    logger.info("embedded delivery started (in-process broker, relay thread)")


def embedded_delivery_stop() -> None:
    relay = _handles.get("relay")
    worker = _handles.get("worker")
    if relay is not None:
        relay.stop()  # type: ignore[attr-defined]
    if worker is not None:
        worker.stop()  # type: ignore[attr-defined]
