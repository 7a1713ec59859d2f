"""Reading from a point in time against the real broker: nothing written meanwhile is skipped."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from agentledger.settings import Settings
from infra.batches import ready_batch
from infra.watermarks import offsets_since
from tests.conftest import unique
from tests.kafka_helpers import as_operator

pytestmark = pytest.mark.integration


def _produce(settings: Settings, topic: str, value: bytes) -> None:
    producer = Producer(as_operator(settings))
    producer.produce(topic, value)
    assert producer.flush(30) == 0


def _consumer(settings: Settings) -> Consumer:
    return Consumer({**as_operator(settings), "group.id": unique("since"),
                     "enable.auto.commit": False})  # fmt: skip


def test_a_record_written_after_the_lookup_on_an_empty_partition_is_read(
    settings: Settings, scratch_topic: str
) -> None:
    """The decision a waiter looks for may land between its lookup and its first fetch.

    With ``offsets_for_times`` alone the empty partition answers -1 (the log end at
    fetch time), so that record was skipped and the waiter timed out.
    """
    consumer = _consumer(settings)
    try:
        since_ms = int(time.time() * 1000) - 5_000
        starts = offsets_since(consumer, [TopicPartition(scratch_topic, 0, since_ms)])
        _produce(settings, scratch_topic, b"decision")
        consumer.assign(starts)
        seen: list[bytes | None] = []
        deadline = time.monotonic() + 20
        while not seen and time.monotonic() < deadline:
            seen += [m.value() for m in ready_batch(consumer, 10, 0.5) if m.error() is None]
        assert seen == [b"decision"]
    finally:
        consumer.close()


def test_older_records_are_not_read_again(settings: Settings, scratch_topic: str) -> None:
    """A record older than the point in time is behind the start offset."""
    _produce(settings, scratch_topic, b"old")
    time.sleep(1.2)
    consumer = _consumer(settings)
    try:
        starts = offsets_since(
            consumer, [TopicPartition(scratch_topic, 0, int(time.time() * 1000) - 500)]
        )
        assert [p.offset for p in starts] == [1]
    finally:
        consumer.close()
