"""integrations.fields.validated reuses one serializer per class and thread: each call sees only
its own data, an invalid call leaves nothing behind for the next, and threads do not share."""

from __future__ import annotations

import threading
import uuid

import pytest
from rest_framework.exceptions import ValidationError

from integrations.apis import PurchaseCommitApi
from integrations.fields import _serializers, validated

INPUT = PurchaseCommitApi.PurchaseCommitInput


def _body(**overrides: object) -> dict[str, object]:
    body = {
        "customer_id": str(uuid.uuid4()),
        "amount_minor": 120_00,
        "order_id": "V-1",
        "outlet_id": str(uuid.uuid4()),
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def test_each_call_sees_its_own_data_only():
    first = validated(INPUT, _body(order_id="V-1", redeem_points=5))
    with pytest.raises(ValidationError) as refused:
        validated(INPUT, _body(amount_minor="lots", order_id=None, extra=1))
    assert set(refused.value.detail) == {"amount_minor", "order_id", "extra"}
    second = validated(INPUT, _body(order_id="V-2"))
    assert (first["order_id"], first["redeem_points"]) == ("V-1", 5)
    assert (second["order_id"], second["redeem_points"]) == ("V-2", 0)  # the default, not 5
    kept = _serializers.__dict__[INPUT]
    assert not {"initial_data", "_validated_data", "_errors"} & set(kept.__dict__)


def test_threads_validate_with_their_own_instances():
    seen: dict[str, object] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            for n in range(200):
                got = validated(INPUT, _body(order_id=f"{name}-{n}"))
                assert got["order_id"] == f"{name}-{n}"
            seen[name] = _serializers.__dict__[INPUT]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len({id(instance) for instance in seen.values()}) == 4
