"""ready_batch against the real broker: no waiting out the timeout, batches still bounded."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, Producer

from agentledger.settings import Settings
from infra.batches import ready_batch
from tests.conftest import unique
from tests.kafka_helpers import as_operator

pytestmark = pytest.mark.integration

TIMEOUT_S = 20.0


@pytest.fixture
def consumer(settings: Settings, scratch_topic: str) -> Iterator[Consumer]:
    """A consumer assigned to the scratch topic from its start."""
    consumer = Consumer({
        **as_operator(settings), "group.id": unique("batches"),
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
    })  # fmt: skip
    consumer.subscribe([scratch_topic])
    yield consumer
    consumer.close()


def _produce(settings: Settings, topic: str, values: list[bytes]) -> None:
    producer = Producer({**as_operator(settings)})
    for value in values:
        producer.produce(topic, value)
    assert producer.flush(30) == 0


def test_a_lone_message_comes_back_without_waiting_out_the_timeout(
    settings: Settings, scratch_topic: str, consumer: Consumer
) -> None:
    """consume(500, 20 s) would hold one message for 20 s; ready_batch returns it on arrival."""
    _produce(settings, scratch_topic, [b"only"])
    started = time.monotonic()
    messages = ready_batch(consumer, 500, TIMEOUT_S)
    elapsed = time.monotonic() - started
    assert [m.value() for m in messages] == [b"only"]
    assert elapsed < TIMEOUT_S / 2  # the join and first fetch, not the timeout


def test_messages_come_in_order_and_never_more_than_asked(
    settings: Settings, scratch_topic: str, consumer: Consumer
) -> None:
    """Every message arrives once, in order, in batches of at most max_messages."""
    values = [f"m{index}".encode() for index in range(25)]
    _produce(settings, scratch_topic, values)
    seen: list[bytes | None] = []
    deadline = time.monotonic() + 60
    while len(seen) < len(values) and time.monotonic() < deadline:
        batch = ready_batch(consumer, 4, 1.0)
        assert len(batch) <= 4
        seen.extend(m.value() for m in batch if m.error() is None)
    assert seen == values


def test_an_empty_topic_gives_an_empty_batch_after_the_timeout(consumer: Consumer) -> None:
    """Nothing to read: an empty list once the timeout has passed, not an error."""
    started = time.monotonic()
    assert ready_batch(consumer, 10, 0.5) == []
    assert time.monotonic() - started >= 0.4  # librdkafka times the wait on its own clock
