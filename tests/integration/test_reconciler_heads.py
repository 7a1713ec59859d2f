"""Reading what lies between a group's committed offset and a record, on the real broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from agentledger.settings import Settings
from consumers.reconciler.heads import KafkaHeads
from tests.kafka_helpers import as_operator, operator

pytestmark = pytest.mark.integration


@pytest.fixture
def topic() -> Iterator[str]:
    """A one-partition topic with records 0-4 written plainly, then 5-7 in one transaction."""
    operator_config = as_operator(Settings())
    name = f"heads-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(operator_config)
    admin.create_topics([NewTopic(name, 1, 1)])[name].result(30)
    plain = Producer(operator_config)
    for index in range(5):
        plain.produce(name, f"v{index}".encode(), b"k", partition=0)
    assert plain.flush(30) == 0
    transactional = Producer({**operator_config, "transactional.id": name})
    transactional.init_transactions(30)
    transactional.begin_transaction()
    for index in range(5, 8):
        transactional.produce(name, f"v{index}".encode(), b"k", partition=0)
    transactional.commit_transaction(30)
    try:
        yield name
    finally:
        admin.delete_topics([name])[name].result(30)


def _commit(group: str, topic: str, offset: int) -> None:
    consumer = Consumer({**as_operator(Settings()), "group.id": group})
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
    finally:
        consumer.close()


def test_the_records_from_the_committed_offset_up_to_the_given_one_are_read(topic: str) -> None:
    """Committed at 2, first record handed over at 6: records 2-5 come back, in order."""
    group = f"g-{uuid.uuid4().hex[:8]}"
    _commit(group, topic, 2)
    heads = KafkaHeads(operator(Settings()), group)
    try:
        missed = heads.missed(topic, 0, 6)
        assert [(m.offset, m.value) for m in missed] == [
            (2, b"v2"),
            (3, b"v3"),
            (4, b"v4"),
            (5, b"v5"),
        ]
        assert heads.missed(topic, 0, 2) == [], "nothing lies before the committed offset"
    finally:
        heads.close()


def test_without_a_committed_offset_the_partition_is_read_from_its_start(topic: str) -> None:
    """A group that never committed starts at the beginning, like the stream does."""
    heads = KafkaHeads(operator(Settings()), f"g-{uuid.uuid4().hex[:8]}")
    try:
        assert [m.offset for m in heads.missed(topic, 0, 3)] == [0, 1, 2]
    finally:
        heads.close()


def test_a_transaction_marker_at_the_head_is_no_record(topic: str) -> None:
    """Committed just past the transaction's records (at its marker): nothing was skipped."""
    group = f"g-{uuid.uuid4().hex[:8]}"
    _commit(group, topic, 8)  # offset 8 is the transaction's commit marker
    heads = KafkaHeads(operator(Settings()), group)
    try:
        assert heads.missed(topic, 0, 9) == []
    finally:
        heads.close()
