"""Walk a topic: each partition's records must chain as the relay wrote them."""

from __future__ import annotations

from confluent_kafka import Consumer, KafkaError, TopicPartition

from infra.audit import AuditResult
from infra.chain import HASH, NOTIFICATION, PREVIOUS, link
from infra.kafka_config import KafkaAccess, client_config


def audit_topic(kafka: KafkaAccess, topic: str, timeout_s: float = 30.0) -> AuditResult:
    """Check every committed record of ``topic`` against its partition's chain."""
    consumer = Consumer(client_config(kafka, {
        "group.id": kafka.scratch_group("audit"),
        "isolation.level": "read_committed", "enable.auto.commit": False,
        "enable.partition.eof": True,
    }))  # fmt: skip
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        if metadata.error is not None:
            return AuditResult(0, f"topic {topic}: {metadata.error}")
        partitions = list(metadata.partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        return _walk(consumer, topic, set(partitions), timeout_s)
    finally:
        consumer.close()


def _text(value: str | bytes | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


def _walk(
    consumer: Consumer, topic: str, open_partitions: set[int], timeout_s: float
) -> AuditResult:
    heads: dict[int, str] = {}
    checked = 0
    while open_partitions:
        message = consumer.poll(timeout_s)
        if message is None:
            return AuditResult(checked, f"topic {topic}: no answer within {timeout_s}s")
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:  # noqa: SLF001  # public constant
                open_partitions.discard(message.partition() or 0)
                continue
            return AuditResult(checked, f"topic {topic}: {error}")
        partition, offset = message.partition() or 0, message.offset()
        where = f"{topic} partition {partition} offset {offset}"
        raw = message.headers() or []
        pairs = raw.items() if isinstance(raw, dict) else raw
        headers = {str(k): _text(v) for k, v in pairs}
        if HASH not in headers:
            return AuditResult(checked, f"{where}: no chain headers: inserted")
        if headers.get(PREVIOUS, "") != heads.get(partition, ""):
            problem = "does not link to the record before it: deleted, inserted or reordered"
            return AuditResult(checked, f"{where}: {problem}")
        expected = link(
            headers.get(PREVIOUS) or None, int(headers[NOTIFICATION]), message.value() or b""
        )
        if expected != headers[HASH]:
            return AuditResult(checked, f"{where}: content does not match its hash: modified")
        heads[partition] = headers[HASH]
        checked += 1
    return AuditResult(checked)
