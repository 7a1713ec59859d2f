"""Walk a topic: each record must be its owner's, and chain as the relay wrote it (if it chains).

A record without its owner's valid signature is reported as forged and passed over, so
the chain goes on from the last genuine record and the next genuine one is not blamed.
After any other finding the walk takes up the chain again from the record it found.
"""

from __future__ import annotations

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from infra.audit import AuditResult
from infra.chain import HASH, PREVIOUS, link, number_in
from infra.kafka_config import KafkaAccess, client_config
from infra.provenance import Owner, header_values, message_headers
from infra.serde.errors import Unproven


def audit_topic(
    kafka: KafkaAccess, topic: str, owner: Owner | None, timeout_s: float = 30.0
) -> AuditResult:
    """Check every committed record of ``topic``: ``owner``'s signature, its partition's chain."""
    consumer = Consumer(client_config(kafka, {
        "group.id": kafka.scratch_group("audit"),
        "isolation.level": "read_committed", "enable.auto.commit": False,
        "enable.partition.eof": True,
    }))  # fmt: skip
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        if metadata.error is not None:
            return AuditResult(0, [f"topic {topic}: {metadata.error}"])
        partitions = list(metadata.partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        return _Walk(topic, owner).run(consumer, set(partitions), timeout_s)
    finally:
        consumer.close()


class _Walk:
    """The chain heads so far, what was found, and how many records were genuine."""

    def __init__(self, topic: str, owner: Owner | None) -> None:
        self.topic, self.owner = topic, owner
        self.heads: dict[int, str] = {}
        self.numbers: dict[int, int] = {}
        self.findings: list[str] = []
        self.checked = 0

    def run(self, consumer: Consumer, open_partitions: set[int], timeout_s: float) -> AuditResult:
        while open_partitions:
            message = consumer.poll(timeout_s)
            if message is None:
                self.findings.append(f"topic {self.topic}: no answer within {timeout_s}s")
                break
            error = message.error()
            if error is None:
                self.take(message)
            elif error.code() == KafkaError._PARTITION_EOF:  # noqa: SLF001  # public constant
                open_partitions.discard(message.partition() or 0)
            else:
                self.findings.append(f"topic {self.topic}: {error}")
                break
        return AuditResult(self.checked, self.findings)

    def take(self, message: Message) -> None:
        partition, offset = message.partition() or 0, message.offset()
        where = f"{self.topic} partition {partition} offset {offset}"
        payload = message.value() or b""
        try:
            if self.owner is not None:
                self.owner.check(partition, message.key(), payload, message_headers(message))
            headers = header_values(message_headers(message))
        except Unproven as exc:
            self.findings.append(f"{where}: {exc.reason}")
            return
        if self.owner is not None and not self.owner.chained:
            self.checked += 1  # its owner's signature is all an unchained record carries
            return
        if HASH not in headers:
            self.findings.append(f"{where}: no chain headers: inserted")
            return
        chain = headers[HASH].decode(errors="replace")
        previous = headers.get(PREVIOUS, b"").decode(errors="replace")
        number, before = number_in(headers), self.numbers.get(partition, 0)
        if number is None:
            self.findings.append(f"{where}: no notification id a chain can hold: inserted")
            return
        if link(previous or None, number, payload) != chain:
            self.findings.append(f"{where}: content does not match its hash: modified")
        elif number <= before:  # the relay's notification ids only grow in a partition
            problem = f"notification {number} again, after notification {before}"
            self.findings.append(f"{where}: {problem}: replayed or reordered")
            return  # the chain goes on from the record before it
        elif previous != self.heads.get(partition, ""):
            problem = "does not link to the record before it: deleted, inserted or reordered"
            self.findings.append(f"{where}: {problem}")
        else:
            self.checked += 1
        self.heads[partition], self.numbers[partition] = chain, number
