"""The latest checkpoint the relay signed, from its topic and its export directory."""

from __future__ import annotations

from pathlib import Path

from confluent_kafka import Consumer, KafkaError, TopicPartition

from infra.checkpoints import Checkpoint, read_export
from infra.kafka_config import KafkaAccess, client_config
from infra.provenance import Owner
from infra.serde.errors import Unproven


def latest_checkpoint(
    kafka: KafkaAccess, topic: str, owner: Owner, export_dir: Path, ledger: str
) -> tuple[Checkpoint | None, list[str]]:
    """The newest genuine checkpoint of ``ledger`` in either place, and what was forged there."""
    found, findings = _on_topic(kafka, topic, owner, ledger)
    for path in sorted(export_dir.glob("checkpoint-*.json")):
        try:
            checkpoint = read_export(path.read_bytes(), owner)
        except (Unproven, OSError) as exc:
            findings.append(f"{path}: {getattr(exc, 'reason', exc)}")
            continue
        if checkpoint.ledger == ledger:
            found.append(checkpoint)
    return max(found, key=lambda c: c.notification_id, default=None), findings


def _on_topic(
    kafka: KafkaAccess, topic: str, owner: Owner, ledger: str, timeout_s: float = 30.0
) -> tuple[list[Checkpoint], list[str]]:
    consumer = Consumer(client_config(kafka, {
        "group.id": kafka.scratch_group("audit"), "isolation.level": "read_committed",
        "enable.auto.commit": False, "enable.partition.eof": True,
    }))  # fmt: skip
    found: list[Checkpoint] = []
    findings: list[str] = []
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        while True:
            message = consumer.poll(timeout_s)
            if message is None:
                raise TimeoutError(f"no answer reading {topic} within {timeout_s}s")
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:  # noqa: SLF001  # public constant
                    return found, findings
                raise RuntimeError(f"reading {topic}: {error}")
            if message.key() != ledger.encode():
                continue
            payload = message.value() or b""
            try:
                owner.check(0, message.key(), payload, message.headers())
                found.append(Checkpoint.decode(payload))
            except Unproven as exc:
                findings.append(f"{topic} offset {message.offset()}: {exc.reason}")
    finally:
        consumer.close()
