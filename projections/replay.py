"""Rebuild a projection from its topics, offset 0 to the end, and switch it in atomically.

``as_of`` keeps only records that happened at or before that instant: the view then
answers "what did we believe, and what did we observe, at T" (built beside the live
view, never switched in).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import psycopg
from confluent_kafka import Consumer, KafkaError, TopicPartition

from domain.events.base import DomainEvent
from infra.batches import ready_batch
from infra.kafka_config import client_config
from infra.serde.decoded import Decoded
from infra.serde.errors import BadRecord
from infra.serde.topic_serde import TopicSerde
from infra.watermarks import watermarks
from projections.store import Projection, ProjectionStore, Tables, UnusableRecord

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
    bootstrap: str,
    serdes: Mapping[str, TopicSerde],
    as_of: datetime | None = None,
    progress: Callable[[int, int], None] = lambda _done, _total: None,
) -> Rebuilt:
    """Rebuild ``projection`` into build tables; switch them in unless ``as_of`` is given.

    Records are validated when the projection's reducer uses them (see ``Reducer``); an
    ``as_of`` cut-off reads each record's time from its decoded datum. If a record the
    reducer kept unvalidated is invalid, the rebuild starts again and validates every
    record as it reads it, so invalid records are skipped exactly as the live projector
    dead-letters them; ``skipped`` then counts every one of them.
    """
    try:
        return _rebuild(store, projection, bootstrap=bootstrap, serdes=serdes, as_of=as_of,
                        progress=progress, lazy=True)  # fmt: skip
    except UnusableRecord as exc:
        log.warning("rebuild of %s: %s; reading again, validating every record", projection.name,
                    exc)  # fmt: skip
        return _rebuild(store, projection, bootstrap=bootstrap, serdes=serdes, as_of=as_of,
                        progress=progress, lazy=False)  # fmt: skip


def _rebuild(  # noqa: PLR0913  # rebuild's arguments, and whether to validate lazily
    store: ProjectionStore,
    projection: Projection,
    *,
    bootstrap: str,
    serdes: Mapping[str, TopicSerde],
    as_of: datetime | None,
    progress: Callable[[int, int], None],
    lazy: bool,
) -> Rebuilt:
    store.drop_build(projection)
    build = Tables(store.prefix, build=True)
    store.ensure([projection], build)
    consumer = Consumer(client_config(bootstrap, {
        "group.id": f"replay-{uuid.uuid4()}",
        "isolation.level": "read_committed", "enable.auto.commit": False,
        "enable.partition.eof": True, "fetch.max.bytes": 52_428_800,
        # a fetch at a partition's end returns (as its end) after this, not librdkafka's 500 ms
        "fetch.wait.max.ms": FETCH_WAIT_MS,
    }))  # fmt: skip
    started = time.perf_counter()
    records = skipped = 0
    loaded = False  # the build tables are empty until the first load
    ends: dict[tuple[str, int], int] = {}
    held = projection.reducer()
    try:
        assignment, total = _assign(consumer, projection, serdes, ends)
        open_partitions = {
            (tp.topic, tp.partition)
            for tp in assignment
            if ends[(_name(serdes, tp.topic), tp.partition)] > tp.offset
        }
        by_topic = {serdes[name].topic: serdes[name] for name in projection.topics}
        with psycopg.connect(store.url) as conn:
            # The build tables are nobody's until the switch, whose commit is synchronous
            # and so flushes every earlier write; a crash before it leaves a build that
            # the next rebuild drops. Waiting for each batch's flush gains nothing.
            conn.execute("SET synchronous_commit TO off")
            while open_partitions:
                for message in ready_batch(consumer, 5000, 1.0):
                    error = message.error()
                    if error is not None:
                        where = (message.topic() or "", message.partition() or 0)
                        if error.code() == KafkaError._PARTITION_EOF:  # noqa: SLF001  # librdkafka's constant
                            open_partitions.discard(where)
                            continue
                        raise RuntimeError(f"reading {where}: {error}")
                    try:
                        item = by_topic[message.topic() or ""].decode(message.value())
                        if not lazy:
                            item.record()  # validated as read: an invalid one is skipped here
                        if as_of is None or _moment(item) <= as_of:
                            held.add(item)
                    except BadRecord:
                        skipped += 1
                        continue
                    records += 1
                if len(held) >= BATCH:  # checked per read batch: holds BATCH + 5,000 at most
                    store.load(conn, projection, held.drain(), build, empty=not loaded)
                    loaded = True
                progress(records + skipped, total)
            store.load(conn, projection, held.drain(), build, empty=not loaded)
    finally:
        consumer.close()
    digest = store.digest(projection, build)
    if as_of is None:
        store.switch(projection, ends)
    return Rebuilt(projection.name, records, skipped, time.perf_counter() - started, digest,
                   switched=as_of is None)  # fmt: skip


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
