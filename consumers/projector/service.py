"""Run one projection live: consume its topics, apply batches with their tracking rows.

On every assignment the consumer seeks to the tracked positions, so a batch is applied
once however often Kafka redelivers it (the tracking rows commit with the view).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import psycopg
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from domain.values import Record
from infra.serde.errors import BadRecord
from infra.serde.topic_serde import TopicSerde
from projections.store import Position, Projection, ProjectionStore

log = logging.getLogger("agentledger.projector")


@dataclass(frozen=True)
class ProjectorConfig:
    """Where the projector reads."""

    bootstrap: str
    group_id: str
    batch_size: int = 2000
    poll_timeout_s: float = 0.2


class Projector:
    """One projection kept live."""

    def __init__(
        self,
        projection: Projection,
        store: ProjectionStore,
        serdes: Mapping[str, TopicSerde],
        config: ProjectorConfig,
    ) -> None:
        """Read ``projection.topics`` through ``serdes`` (by unprefixed name)."""
        self.projection, self.store, self.config = projection, store, config
        self._serdes = {name: serdes[name] for name in projection.topics}
        self._names = {serde.topic: name for name, serde in self._serdes.items()}
        self.ready = threading.Event()
        self.applied = 0

    def run(self, stop: threading.Event) -> None:
        """Project until ``stop`` is set; database outages are retried."""
        self.store.ensure([self.projection])
        consumer = Consumer({
            "bootstrap.servers": self.config.bootstrap,
            "group.id": f"{self.config.group_id}.{self.projection.name}",
            "client.id": f"projector-{uuid.uuid4().hex[:6]}", "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "isolation.level": "read_committed",
        })  # fmt: skip
        consumer.subscribe(list(self._names), on_assign=self._on_assign)
        try:
            with psycopg.connect(self.store.url) as conn:
                while not stop.is_set():
                    messages = consumer.consume(self.config.batch_size, self.config.poll_timeout_s)
                    batch = [item for m in messages if (item := self._decode(m)) is not None]
                    while batch and not stop.is_set():
                        try:
                            self.applied += self.store.apply(conn, self.projection, batch)
                            break
                        except psycopg.OperationalError:
                            log.warning("database unavailable; retrying the batch", exc_info=True)
                            stop.wait(1.0)
                            conn = psycopg.connect(self.store.url)  # noqa: PLW2901  # reconnect
        finally:
            consumer.close()

    def _decode(self, message: Message) -> tuple[Position, Record] | None:
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:  # noqa: SLF001  # librdkafka's constant
                log.warning("consumer error: %s", error)
            return None
        name = self._names[message.topic() or ""]
        try:
            record = self._serdes[name].deserialize(message.value())
        except BadRecord as exc:
            log.warning("skipping an unreadable record on %s: %s", name, exc)
            return None
        return Position(name, message.partition() or 0, message.offset() or 0), record

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        stored = self.store.positions(self.projection.name)
        for partition in partitions:
            key = (self._names[partition.topic], partition.partition)
            if key in stored:
                partition.offset = stored[key]
        consumer.assign(partitions)
        self.ready.set()
