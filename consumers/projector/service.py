"""One projection kept live: a handler of its topics' batches, run by the consumer runner.

On every assignment a partition resumes at its tracked position, so a batch is applied
once however often Kafka redelivers it (the tracking rows commit with the view), through
any rebalance. Unreadable records go to the dead-letter topic, delivered before the
tracking rows move past them; a letter's id derives from the record's position, so a
redelivery repeats it. A batch the view refuses for a reason other than a database
outage (a value PostgreSQL cannot store, a projection that fails on one record) is
applied again record by record: each record refused on its own is dead-lettered with
the error, and the rest applied. The view's connection comes from a pool that replaces
a connection broken by an outage.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import psycopg
from confluent_kafka import OFFSET_BEGINNING, Message, TopicPartition
from psycopg_pool import ConnectionPool

from consumers.runtime.retry import RetryPolicy
from consumers.runtime.runner import Runner, Subscription
from domain.events.proposals import KafkaPosition
from domain.values import Record
from infra.kafka_config import KafkaAccess
from infra.outages import DATABASE_OUTAGES
from infra.serde.deadletter import DeadLetter, dead_letter_for
from infra.serde.errors import BadRecord, ProcessingFailed
from infra.serde.topic_serde import TopicSerde
from projections.store import Position, Projection, ProjectionStore

log = logging.getLogger("agentledger.projector")


@dataclass(frozen=True)
class ProjectorConfig:
    """Where the projector reads."""

    kafka: KafkaAccess
    group_id: str
    instance: str | None = None
    """This instance's name in each projection's group (static membership), if given."""
    batch_size: int = 2000
    poll_timeout_s: float = 0.2


@dataclass(frozen=True)
class _Read:
    """One poll's worth: the records to apply, the positions passed, the messages by place."""

    records: list[tuple[Position, Record]]
    passed: list[Position]
    """Records read but not applied (dead-lettered as unreadable)."""
    sources: dict[tuple[str, int, int], Message]
    """Each message by (topic on the broker, partition, offset), for its dead letter."""


class Projector:
    """One projection kept live."""

    def __init__(  # noqa: PLR0913  # a projector joins its view, store, topics and dead letters
        self,
        projection: Projection,
        store: ProjectionStore,
        serdes: Mapping[str, TopicSerde],
        config: ProjectorConfig,
        *,
        dead_letter: Callable[[list[DeadLetter]], None],
        clock: Callable[[], datetime],
    ) -> None:
        """Read ``projection.topics`` through ``serdes`` (by unprefixed name).

        ``dead_letter`` must durably publish the letters before returning.
        """
        self.projection, self.store, self.config = projection, store, config
        self._serdes = {name: serdes[name] for name in projection.topics}
        self._names = {serde.topic: name for name, serde in self._serdes.items()}
        self._letters, self._clock = dead_letter, clock
        self.consumer = f"{config.group_id}.{projection.name}"
        self.ready = threading.Event()
        self.applied = self.dead_letters = 0
        self._policy = RetryPolicy()
        self._pool: ConnectionPool[Any]

    def run(self, stop: threading.Event) -> None:
        """Project until ``stop`` is set; database and broker outages are waited out."""
        self.store.ensure([self.projection])
        config = self.config
        subscription = Subscription(
            config.kafka, self.consumer, list(self._names), "projector", config.instance,
            config.batch_size, config.poll_timeout_s,
        )  # fmt: skip
        with ConnectionPool(
            self.store.url, min_size=1, max_size=1, timeout=10,
            check=ConnectionPool.check_connection, name=self.consumer,
        ) as self._pool:  # fmt: skip
            Runner(self, subscription, ready=self.ready).run(stop)

    def assigned(self, partitions: list[TopicPartition]) -> None:
        """Resume each partition at the projection's tracked position."""
        stored = self.store.positions(self.projection.name)
        for partition in partitions:  # no position yet: from the start, whatever Kafka holds
            key = (self._names[partition.topic], partition.partition)
            partition.offset = stored.get(key, OFFSET_BEGINNING)

    def revoked(self, partitions: list[TopicPartition]) -> None:
        """Nothing is kept per partition beyond the tracking rows (read again on assignment)."""

    def handle(self, messages: list[Message], stop: threading.Event) -> None:
        """Apply ``messages`` with their tracking rows; dead-letter what cannot be applied."""
        batch, letters = self._decode(messages)
        if letters:
            self._policy.run(lambda: self._letters(letters), stop)
            self.dead_letters += len(letters)
        read = _Read(
            batch, [self._position(letter) for letter in letters],
            {_where(m): m for m in messages},
        )  # fmt: skip
        if read.records or read.passed:
            self._policy.run(lambda: self._apply(read, stop), stop)

    def _apply(self, read: _Read, stop: threading.Event) -> None:
        """Apply what was read; if the view refuses it, record by record (outages propagate)."""
        with self._pool.connection() as conn:
            try:
                self.applied += self.store.apply(
                    conn, self.projection, read.records, passed=read.passed
                )
            except DATABASE_OUTAGES:
                raise
            except Exception:  # a record the view cannot take: find it, never stop on it
                log.exception("%s refused a batch of %d; applying it record by record",
                              self.projection.name, len(read.records))  # fmt: skip
                self._one_by_one(conn, read, stop)

    def _one_by_one(
        self, conn: psycopg.Connection[Any], read: _Read, stop: threading.Event
    ) -> None:
        """Apply each record in its own transaction; dead-letter each one refused.

        A refused record's position is passed only after its letter was published; if
        the projector stops first, the record stays unapplied and is read again.
        """
        if read.passed:
            self.applied += self.store.apply(conn, self.projection, [], passed=read.passed)
        for position, record in read.records:
            try:
                self.applied += self.store.apply(conn, self.projection, [(position, record)])
            except DATABASE_OUTAGES:
                raise
            except Exception as exc:  # noqa: BLE001  # whatever it is, it goes in the letter
                topic = self._serdes[position.topic].topic
                message = read.sources[topic, position.partition, position.offset]
                failed = ProcessingFailed(f"{type(exc).__name__}: {exc}"[:2000])
                letter = self._letter(message, failed)
                self._policy.run(lambda: self._letters([letter]), stop)  # noqa: B023  # run at once
                self.dead_letters += 1
                self.store.apply(conn, self.projection, [], passed=[position])

    def _decode(
        self, messages: list[Message]
    ) -> tuple[list[tuple[Position, Record]], list[DeadLetter]]:
        """The records of ``messages`` (the runner hands over no errors), and dead letters.

        A dead letter stands for each message that cannot be read.
        """
        batch: list[tuple[Position, Record]] = []
        letters: list[DeadLetter] = []
        for message in messages:
            name = self._names[message.topic() or ""]
            try:
                record = self._serdes[name].read_message(message)
            except BadRecord as exc:
                letters.append(self._letter(message, exc))
                continue
            batch.append((Position(name, message.partition() or 0, message.offset() or 0), record))
        return batch, letters

    def _letter(self, message: Message, error: BadRecord) -> DeadLetter:
        """The dead letter of an unreadable record; its id derives from where it was."""
        topic, partition, offset = (
            message.topic() or "",
            message.partition() or 0,
            message.offset() or 0,
        )
        log.warning("dead-lettering %s[%d]@%d: %s", topic, partition, offset, error)
        where = f"dead:{self.consumer}:{topic}:{partition}:{offset}"
        return dead_letter_for(
            error, origin=KafkaPosition(topic=topic, partition=partition, offset=offset),
            key=message.key(), payload=message.value(), headers={}, consumer=self.consumer,
            clock=self._clock, new_id=partial(uuid5, NAMESPACE_URL, where),
        )  # fmt: skip

    def _position(self, letter: DeadLetter) -> Position:
        """Where a dead-lettered record was, by the topic's unprefixed name."""
        origin = letter.origin
        return Position(self._names[origin.topic], origin.partition, origin.offset)


def _where(message: Message) -> tuple[str, int, int]:
    """A message's topic (as named on the broker), partition and offset."""
    return message.topic() or "", message.partition() or 0, message.offset() or 0
