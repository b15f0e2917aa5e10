"""What the scale-out tests share: a stream of purchases committed in a thread while a test
breaks something, and what a receiver that deduplicates by ``webhook-id`` makes of the requests.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from typing import Any

from django.db import connections
from standardwebhooks import Webhook

from loyalty.models import Customer
from loyalty.services import MerchantSetup, purchase_commit
from tests.fixtures.receiver import Received


class PurchaseStream:
    """Commits purchases through ``purchase_commit`` (one of ``customers`` at random each) about
    ``rate`` times a second in a thread, from ``start()`` until ``stop()``; ``committed`` lists
    their order ids, ``ids`` their purchase ids, in commit order."""

    def __init__(
        self,
        setup: MerchantSetup,
        customers: list[Customer],
        *,
        prefix: str,
        rate: float = 20.0,
        seed: int = 0,
    ) -> None:
        self.setup, self.customers, self.prefix, self.rate = setup, customers, prefix, rate
        self.random = random.Random(seed)
        self.committed: list[str] = []
        self.ids: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> PurchaseStream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def __len__(self) -> int:
        return len(self.committed)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                order = f"{self.prefix}-{len(self.committed)}"
                purchase = purchase_commit(
                    merchant=self.setup.merchant,
                    customer_id=self.random.choice(self.customers).id,
                    amount_minor=5_00,
                    order_id=order,
                    outlet_id=self.setup.outlet.id,
                )
                self.ids.append(str(purchase.id))
                self.committed.append(order)
                self._stop.wait(1.0 / self.rate)
        finally:
            connections.close_all()  # this thread's own connection, or the test database stays


def effects_once(requests: Iterable[Received], secret: str) -> dict[str, tuple[str, Any]]:
    """What a receiver that deduplicates by ``webhook-id`` applies: ``{webhook-id: (type, data)}``
    of the first request of each id. Every request must verify, and a redelivery carry the same
    body as the first."""
    effects: dict[str, tuple[str, Any]] = {}
    for request in requests:
        payload = Webhook(secret).verify(request.body, request.headers)
        first = effects.setdefault(
            request.headers["webhook-id"], (payload["type"], payload["data"])
        )
        assert first == (payload["type"], payload["data"]), "a redelivery changed the body"
    return effects


def delivered_purchases(requests: Iterable[Received], secret: str) -> list[str]:
    """Purchase ids of the ``purchase.committed`` effects, one entry per ``webhook-id``."""
    return [
        data["id"]
        for kind, data in effects_once(requests, secret).values()
        if kind == "purchase.committed"
    ]
