"""``rundramatiq``: django_dramatiq's worker command, gated by ``WORKERS_ENABLED``."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django_dramatiq.management.commands.rundramatiq import Command as DramatiqCommand

logger = logging.getLogger(__name__)


class Command(DramatiqCommand):
    help = (
        "Run Dramatiq workers (outbound deliveries, inbound Telegram updates). Does nothing "
        "unless WORKERS_ENABLED=1, so that only the worker service consumes queues."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.WORKERS_ENABLED:
            logger.warning("rundramatiq: WORKERS_ENABLED is not 1; not starting workers")
            self.stderr.write("rundramatiq: WORKERS_ENABLED is not 1; not starting workers (no-op)")
            return
        if settings.EMBEDDED_BROKER:
            self.stderr.write(
                "rundramatiq: REDIS_URL is not set; the embedded broker runs inside the web "
                "process (make run), separate workers need Redis"
            )
            raise SystemExit(2)
        super().handle(*args, **options)
