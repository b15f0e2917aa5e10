"""A backlog's messages are shared by the worker processes: the relay cuts a claim into several
messages, a process takes at most ``OUTBOUND_PREFETCH`` outbound messages at once, and an idle
consumer asks Redis again within ``IDLE_POLL_MS`` (Dramatiq's own back-off reached 1 s)."""

from __future__ import annotations

from core.redis_connection import IDLE_POLL_MS, OUTBOUND_PREFETCH, RedisBroker
from outbox.relay import MESSAGE_CHUNK, MESSAGE_MIN, MESSAGE_SPREAD, message_chunks


def test_a_claim_is_cut_into_messages_every_process_can_share():
    heads = list(range(200))  # the heads of 200 ordered streams
    chunks = message_chunks(heads)
    assert len(chunks) == MESSAGE_SPREAD and [i for c in chunks for i in c] == heads
    big = list(range(5000))
    assert all(len(c) == MESSAGE_CHUNK for c in message_chunks(big))
    few = list(range(12))
    assert message_chunks(few) == [few[:MESSAGE_MIN], few[MESSAGE_MIN:]]
    assert message_chunks([]) == []


def test_outbound_consumers_hold_few_messages_and_poll_often():
    broker = RedisBroker()
    try:
        outbound = broker.consume("outbound", prefetch=16, timeout=1000)
        inbound = broker.consume("inbound", prefetch=16, timeout=1000)
        assert (outbound.prefetch, outbound.timeout) == (OUTBOUND_PREFETCH, IDLE_POLL_MS)
        assert (inbound.prefetch, inbound.timeout) == (16, IDLE_POLL_MS)
        outbound.close()
        inbound.close()
    finally:
        broker.close()
