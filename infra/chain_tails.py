"""The last record a chaining owner (the relay, the observer) put on each partition.

Read ``read_committed`` from the end of each partition backwards (in growing windows)
until a record with the owner's chain headers and signature is found: records of anyone
else (even with a chain computed to follow) and aborted transactions are passed over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from infra.chain import HASH, PREVIOUS, link, number_in
from infra.kafka_config import KafkaAccess, client_config
from infra.provenance import Owner, header_values, message_headers
from infra.serde.errors import Unproven
from infra.watermarks import watermarks

FIRST_WINDOW = 32


@dataclass(frozen=True)
class Tail:
    """The owner's last record in one partition: its number (notification id) and chain hash."""

    notification_id: int
    chain: str
    offset: int


def chain_tails(
    kafka: KafkaAccess, topics: Mapping[str, Owner], partitions: int
) -> dict[str, Tail]:
    """The owner's last record per ``topic:partition`` of ``topics`` (absent: none there).

    ``topics`` maps each topic, as named on the broker, to its owner's signature check.
    """
    consumer = Consumer(client_config(kafka, {
        "group.id": kafka.scratch_group("tails"), "isolation.level": "read_committed",
        "enable.auto.commit": False, "enable.partition.eof": True,
    }))  # fmt: skip
    try:
        tails = {}
        for topic in sorted(topics):
            for partition in range(partitions):
                where = TopicPartition(topic, partition)
                found = _last_relayed(consumer, where, topics[topic])
                if found is not None:
                    tails[f"{where.topic}:{partition}"] = found
        return tails
    finally:
        consumer.close()


def _last_relayed(consumer: Consumer, where: TopicPartition, owner: Owner) -> Tail | None:
    low, high = watermarks(consumer, where)
    window, end = FIRST_WINDOW, high
    while end > low:
        start = max(low, end - window)
        found = _last_in(consumer, TopicPartition(where.topic, where.partition, start), end, owner)
        if found is not None:
            return found
        end, window = start, window * 4
    return None


def _last_in(consumer: Consumer, start: TopicPartition, end: int, owner: Owner) -> Tail | None:
    """The last relayed record at offsets [start, end) of one partition."""
    consumer.assign([start])
    last = None
    while True:
        message = consumer.poll(10)
        if message is None:
            raise TimeoutError(f"no answer reading {start.topic}[{start.partition}]")
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:  # noqa: SLF001  # librdkafka's constant
                return last
            raise RuntimeError(f"reading {start.topic}[{start.partition}]: {error}")
        offset = message.offset() or 0
        if offset >= end:
            return last
        found = _tail(message, owner)
        if found is not None and (last is None or found.notification_id > last.notification_id):
            last = found  # a genuine record relayed again later is not the tail


def _tail(message: Message, owner: Owner) -> Tail | None:
    """The owner's record in ``message``: signed by it, and its number the one its link covers."""
    payload = message.value() or b""
    try:
        owner.check(message.partition() or 0, message.key(), payload, message_headers(message))
        headers = header_values(message_headers(message))
        number, chain = number_in(headers), headers[HASH].decode()
        previous = headers.get(PREVIOUS, b"").decode()
    except (Unproven, ValueError, KeyError):
        return None
    if number is None or link(previous or None, number, payload) != chain:
        return None
    return Tail(number, chain, message.offset() or 0)
