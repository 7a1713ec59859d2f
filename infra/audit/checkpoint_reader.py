"""The latest checkpoint the relay signed, from its topic and its export directory."""

from __future__ import annotations

from pathlib import Path

from confluent_kafka import Consumer, KafkaError, TopicPartition

from infra.checkpoints import MAX_FILE_BYTES, Checkpoint, read_export
from infra.kafka_config import KafkaAccess, client_config
from infra.provenance import Owner, message_headers
from infra.serde.errors import Unproven


def latest_checkpoint(
    kafka: KafkaAccess, topic: str, owner: Owner, export_dir: Path, ledger: str
) -> tuple[Checkpoint | None, list[str]]:
    """The newest genuine checkpoint of ``ledger`` in either place, and what was forged there."""
    found, findings = _on_topic(kafka, topic, owner, ledger)
    for path in sorted(export_dir.glob("checkpoint-*.json")):
        try:
            found.append(read_export(_regular(path), owner, ledger))
        except Unproven as exc:
            findings.append(f"{path}: {exc.reason}")
        except OSError as exc:
            findings.append(f"{path}: unreadable: {exc}")
    return max(found, key=lambda c: c.notification_id, default=None), findings


def _regular(path: Path) -> bytes:
    """A regular file's bytes, up to the size a checkpoint can have (no FIFO, no device)."""
    if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
        raise Unproven(f"not a regular file of at most {MAX_FILE_BYTES} bytes")
    with path.open("rb") as file:
        return file.read(MAX_FILE_BYTES + 1)


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
                owner.check(0, message.key(), payload, message_headers(message))
                checkpoint = Checkpoint.decode(payload)
            except Unproven as exc:
                findings.append(f"{topic} offset {message.offset()}: {exc.reason}")
                continue
            if checkpoint.ledger == ledger:
                found.append(checkpoint)
    finally:
        consumer.close()
