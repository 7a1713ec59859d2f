"""The relay's signed copies of the store's records, by notification id, read from its topics."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from infra.chain import HASH, PREVIOUS, link, number_in
from infra.kafka_config import KafkaAccess, client_config
from infra.provenance import Owner, header_values, message_headers
from infra.serde.errors import Unproven

FRAME = 5
"""The Confluent framing the relay adds before the stored Avro body."""


@dataclass(frozen=True)
class Copy:
    """Where the relay put a stored record, and the sha256 of the body it relayed."""

    topic: str
    partition: int
    offset: int
    body_digest: bytes

    def __str__(self) -> str:
        """Where it is, for a finding."""
        return f"{self.topic} partition {self.partition} offset {self.offset}"


def body_digest(body: bytes) -> bytes:
    """What a copy and a stored record are compared by."""
    return hashlib.sha256(body).digest()


def relayed_copies(
    kafka: KafkaAccess, owners: Mapping[str, Owner], timeout_s: float = 30.0
) -> dict[int, Copy]:
    """Every record on ``owners``' topics (full names) that its owner signed, by notification id.

    Records that are not the relay's are left out: ``audit verify --topic`` names them.
    """
    consumer = Consumer(client_config(kafka, {
        "group.id": kafka.scratch_group("audit"), "isolation.level": "read_committed",
        "enable.auto.commit": False, "enable.partition.eof": True,
    }))  # fmt: skip
    copies: dict[int, Copy] = {}
    try:
        for topic, owner in owners.items():
            metadata = consumer.list_topics(topic, timeout=10).topics[topic]
            partitions = set(metadata.partitions)
            consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
            while partitions:
                message = consumer.poll(timeout_s)
                if message is None:
                    raise TimeoutError(f"no answer reading {topic} within {timeout_s}s")
                error = message.error()
                if error is None:
                    _take(message, owner, copies)
                elif error.code() == KafkaError._PARTITION_EOF:  # noqa: SLF001  # public constant
                    partitions.discard(message.partition() or 0)
                else:
                    raise RuntimeError(f"reading {topic}: {error}")
    finally:
        consumer.close()
    return copies


def _take(message: Message, owner: Owner, copies: dict[int, Copy]) -> None:
    """Keep ``message`` if the relay signed it and its notification id is the one its link covers.

    A genuine record relayed again later (a replay) does not displace the first copy.
    """
    partition, payload = message.partition() or 0, message.value() or b""
    try:
        owner.check(partition, message.key(), payload, message_headers(message))
        headers = header_values(message_headers(message))
        number = number_in(headers)
        previous = headers.get(PREVIOUS, b"").decode()
    except (Unproven, ValueError):
        return
    if number is None or link(previous or None, number, payload) != headers.get(HASH, b"").decode(
        errors="replace"
    ):
        return
    copies.setdefault(number, Copy(
        message.topic() or "", partition, message.offset() or 0, body_digest(payload[FRAME:])
    ))  # fmt: skip
