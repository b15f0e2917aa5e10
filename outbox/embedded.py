"""The embedded run's delivery: relay thread and Dramatiq worker inside the web process.

Used by ``make run`` (SQLite, no Redis): the broker is Dramatiq's in-process StubBroker, so the
relay and the worker must live in the process that serves the API.
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

    import notifications.actors  # noqa: F401  (inbound Telegram updates)
    import outbox.actors  # noqa: F401  (registers the actors on the broker)
    from outbox.actors import enqueue
    from outbox.jobs import default_jobs
    from outbox.relay import Relay

    broker = dramatiq.get_broker()
    worker = Worker(broker, worker_threads=worker_threads, worker_timeout=100)
    worker.start()
    relay = Relay(enqueue=enqueue, jobs=default_jobs())
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
