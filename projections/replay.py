"""Rebuild a projection from its topics, offset 0 to the end, and switch it in atomically.

``as_of`` keeps only records that happened at or before that instant: the view then
answers "what did we believe, and what did we observe, at T" (built beside the live
view, never switched in).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import psycopg
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from domain.events.base import DomainEvent
from infra.batches import ready_batch
from infra.kafka_config import KafkaAccess, client_config
from infra.serde.decoded import Decoded
from infra.serde.errors import BadRecord
from infra.serde.topic_serde import TopicSerde
from infra.watermarks import watermarks
from projections.signed_reading import SignedReading
from projections.store import (
    Projection,
    ProjectionStore,
    Tables,
    TakesPayloads,
    UnusableRecord,
)

log = logging.getLogger("agentledger.projections")

BATCH = 20_000
"""Records a rebuild holds before it writes them (after its projection's reducer)."""

FETCH_WAIT_MS = 20


@dataclass(frozen=True)
class Rebuilt:
    """What a rebuild read and produced."""

    projection: str
    records: int
    skipped: int
    seconds: float
    digest: str
    switched: bool


def rebuild(  # noqa: PLR0913  # a rebuild names its source, target, cut-off and progress sink
    store: ProjectionStore,
    projection: Projection,
    *,
    kafka: KafkaAccess,
    serdes: Mapping[str, TopicSerde],
    as_of: datetime | None = None,
    progress: Callable[[int, int], None] = lambda _done, _total: None,
) -> Rebuilt:
    """Rebuild ``projection`` into build tables; switch them in unless ``as_of`` is given.

    Records are validated when the projection's reducer uses them (see ``Reducer``); an
    ``as_of`` cut-off reads each record's time from its decoded datum. If a record the
    reducer kept unvalidated is invalid, or a topic's chain is broken (see
    :class:`SignedReading`), the rebuild starts again and checks every record and its
    signature as it reads it, so invalid and unsigned records are skipped exactly as the
    live projector dead-letters them; ``skipped`` then counts every one of them.
    """
    try:
        return _rebuild(store, projection, kafka=kafka, serdes=serdes, as_of=as_of,
                        progress=progress, lazy=True)  # fmt: skip
    except UnusableRecord as exc:  # an invalid record, or a broken chain: check everything
        log.warning("rebuild of %s: %s; reading again, validating every record and its"
                    " signature", projection.name, exc)  # fmt: skip
        return _rebuild(store, projection, kafka=kafka, serdes=serdes, as_of=as_of,
                        progress=progress, lazy=False, signatures=True)  # fmt: skip


def _rebuild(  # noqa: PLR0913  # rebuild's arguments, and whether to validate lazily
    store: ProjectionStore,
    projection: Projection,
    *,
    kafka: KafkaAccess,
    serdes: Mapping[str, TopicSerde],
    as_of: datetime | None,
    progress: Callable[[int, int], None],
    lazy: bool,
    signatures: bool = False,
) -> Rebuilt:
    # One connection for the whole rebuild: its setup in autocommit mode, then one
    # transaction for the writes, the digest and the switch. The build tables are
    # nobody's until the switch, whose commit waits for the WAL flush and so flushes every
    # earlier write; a crash before it leaves a build that the next rebuild drops.
    with psycopg.connect(store.url, autocommit=True) as conn:
        store.drop_build(projection, conn)
        build = Tables(store.prefix, build=True)
        store.ensure([projection], build, conn)
        conn.autocommit = False
        conn.execute("SET synchronous_commit TO off")  # see above: nothing waits for it
        consumer = Consumer(client_config(kafka, {
            "group.id": kafka.scratch_group("replay"),
            "isolation.level": "read_committed", "enable.auto.commit": False,
            "enable.partition.eof": True, "fetch.max.bytes": 52_428_800,
            # a fetch at a partition's end returns (as its end) after this, not 500 ms
            "fetch.wait.max.ms": FETCH_WAIT_MS,
        }))  # fmt: skip
        started = time.perf_counter()
        ends: dict[tuple[str, int], int] = {}
        reading = _Reading(
            projection, serdes, lazy=lazy, as_of=as_of, signatures=signatures, ends=ends
        )
        loaded = False  # the build tables are empty until the first load
        try:
            assignment, total = _assign(consumer, projection, serdes, ends)
            reading.open_partitions = {
                (tp.topic, tp.partition)
                for tp in assignment
                if ends[(_name(serdes, tp.topic), tp.partition)] > tp.offset
            }
            while reading.open_partitions:
                reading.take(ready_batch(consumer, 5000, 1.0))
                if len(reading.held) >= BATCH:  # per read batch: holds BATCH + 5,000 at most
                    store.load(conn, projection, reading.held.drain(), build, empty=not loaded)
                    loaded = True
                progress(reading.records + reading.skipped, total)
            reading.signed.settle()
            store.load(conn, projection, reading.held.drain(), build, empty=not loaded)
        finally:
            consumer.close()
        digest = store.digest(projection, build, conn)  # sees the writes
        if as_of is None:
            store.switch(projection, ends, conn)  # commits with them
    return Rebuilt(projection.name, reading.records, reading.skipped,
                   time.perf_counter() - started, digest, switched=as_of is None)  # fmt: skip


class _Reading:
    """What a rebuild has read so far: the reducer, the counts, the partitions still open."""

    def __init__(  # noqa: PLR0913  # what to read, through what, how strictly, up to where
        self, projection: Projection, serdes: Mapping[str, TopicSerde], *, lazy: bool,
        as_of: datetime | None, ends: Mapping[tuple[str, int], int], signatures: bool = False,
    ) -> None:  # fmt: skip
        """Read ``projection``'s topics through ``serdes`` (see :func:`rebuild`).

        ``signatures``: check every record's signature, not just each chain's last.
        """
        self.held = projection.reducer()
        self.records = self.skipped = 0
        self.open_partitions: set[tuple[str, int]] = set()
        self._lazy, self._as_of = lazy, as_of
        self._by_topic = {serdes[name].topic: serdes[name] for name in projection.topics}
        names = {serdes[name].topic: name for name in projection.topics}
        ends_by_topic = _ByTopic(ends, names)
        self.signed = SignedReading(self._by_topic, ends_by_topic, strict=signatures)
        # a reducer that takes its one topic's payloads in runs reads most records in C
        self._fast = serdes[projection.topics[0]] if (
            lazy and as_of is None and len(projection.topics) == 1
            and isinstance(self.held, TakesPayloads)
        ) else None  # fmt: skip

    def take(self, batch: list[Message]) -> None:
        """Read ``batch``: runs of it through the reducer's ``add_payloads``, if it can.

        A record its topic's owner did not sign is skipped, as the live projector
        dead-letters it.
        """
        batch = [message for message in batch if self._proven(message)]
        if self._fast is None:
            for message in batch:
                self._read(message)
            return
        payloads = [None if m.error() is not None else m.value() for m in batch]
        index = 0
        while index < len(batch):
            taken = cast("TakesPayloads", self.held).add_payloads(self._fast, payloads, index)
            self.records += taken - index
            if taken < len(batch):  # one it cannot take: read here, then on
                self._read(batch[taken])
            index = taken + 1

    def _proven(self, message: Message) -> bool:
        """Whether ``message`` may be read (see :class:`SignedReading`); if not, it is skipped.

        Records past their partition's end are left to the live projector, uncounted.
        """
        if self.signed.beyond(message):
            return False
        if self.signed.admits(message):
            return True
        self.skipped += 1
        return False

    def _read(self, message: Message) -> None:
        error = message.error()
        if error is not None:
            where = (message.topic() or "", message.partition() or 0)
            if error.code() != KafkaError._PARTITION_EOF:  # noqa: SLF001  # librdkafka's constant
                raise RuntimeError(f"reading {where}: {error}")
            self.open_partitions.discard(where)
            return
        try:
            item = self._by_topic[message.topic() or ""].decode(message.value())
            if not self._lazy:
                item.record()  # validated as read: an invalid one is skipped here
            if self._as_of is None or _moment(item) <= self._as_of:
                self.held.add(item)
        except BadRecord:
            self.skipped += 1
            return
        self.records += 1


def _assign(
    consumer: Consumer,
    projection: Projection,
    serdes: Mapping[str, TopicSerde],
    ends: dict[tuple[str, int], int],
) -> tuple[list[TopicPartition], int]:
    assignment, total = [], 0
    for name in projection.topics:
        topic = serdes[name].topic
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        for partition in partitions:
            low, high = watermarks(consumer, TopicPartition(topic, partition))
            ends[(name, partition)] = high
            total += high - low
            assignment.append(TopicPartition(topic, partition, low))
    consumer.assign(assignment)
    return assignment, total


def _name(serdes: Mapping[str, TopicSerde], topic: str) -> str:
    for name, serde in serdes.items():
        if serde.topic == topic:
            return name
    raise KeyError(topic)


def _moment(item: Decoded) -> datetime:
    """When the record in ``item`` happened: read from its metadata, or from the record."""
    picked = item.fields(_WHEN)
    metadata = picked.get("metadata") if picked is not None else None
    if isinstance(metadata, dict) and isinstance(metadata.get("occurred_at"), datetime):
        return metadata["occurred_at"]  # type: ignore[no-any-return]  # checked just above
    record = item.record()
    if isinstance(record, DomainEvent):
        return record.metadata.occurred_at
    raise TypeError(f"{type(record).__name__} has no time")


_WHEN = frozenset({"metadata"})


class _ByTopic(Mapping[tuple[str, int], int]):
    """``ends`` (by unprefixed topic name) seen by full topic name, as it fills in."""

    def __init__(self, ends: Mapping[tuple[str, int], int], names: Mapping[str, str]) -> None:
        self._ends, self._names = ends, names

    def __getitem__(self, place: tuple[str, int]) -> int:
        topic, partition = place
        return self._ends[(self._names[topic], partition)]

    def __iter__(self) -> Iterator[tuple[str, int]]:
        topics = {name: topic for topic, name in self._names.items()}
        return iter([(topics[name], partition) for name, partition in self._ends])

    def __len__(self) -> int:
        return len(self._ends)
