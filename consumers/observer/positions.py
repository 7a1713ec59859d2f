"""How far the observer read each system's change feed, kept on a compacted topic.

Positions are produced in the same Kafka transaction as the observations they cover,
so a restart resumes exactly after the last committed observation: none lost, none
repeated for ``read_committed`` readers.
"""

from __future__ import annotations

import json

from confluent_kafka import Consumer, Producer, TopicPartition

from infra.kafka_config import KafkaAccess, client_config
from infra.watermarks import watermarks


class ObserverPositions:
    """The last change sequence observed per source system."""

    def __init__(self, kafka: KafkaAccess, topic: str, observer: str) -> None:
        """Positions of the observer named ``observer`` on ``topic`` (one partition)."""
        self._kafka, self._topic, self._observer = kafka, topic, observer

    def load(self, timeout_s: float = 30.0) -> dict[str, int]:
        """The committed sequence per source (absent: start from the beginning)."""
        consumer = Consumer(client_config(self._kafka, {
            "group.id": self._kafka.scratch_group("position"),
            "isolation.level": "read_committed", "enable.auto.commit": False,
            "enable.partition.eof": True,
        }))  # fmt: skip
        prefix = f"{self._observer}:".encode()
        positions: dict[str, int] = {}
        try:
            low, _ = watermarks(consumer, TopicPartition(self._topic, 0))
            consumer.assign([TopicPartition(self._topic, 0, low)])
            while True:
                message = consumer.poll(timeout_s)
                if message is None:
                    raise TimeoutError(f"no answer reading {self._topic}")
                error = message.error()
                if error is not None:
                    if error.code() == error._PARTITION_EOF:  # noqa: SLF001  # public constant
                        return positions
                    raise RuntimeError(f"reading {self._topic}: {error}")
                key = message.key() or b""
                if key.startswith(prefix) and message.value():
                    source = key.removeprefix(prefix).decode()
                    positions[source] = int(json.loads(message.value() or b"{}")["sequence"])
        finally:
            consumer.close()

    def write(self, producer: Producer, source: str, sequence: int) -> None:
        """Produce the position of ``source`` (inside the observations' transaction)."""
        key = f"{self._observer}:{source}".encode()
        value = json.dumps({"sequence": sequence}).encode()
        producer.produce(self._topic, key=key, value=value, partition=0)
