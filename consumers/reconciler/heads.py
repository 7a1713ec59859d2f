"""Records faust dropped at the head of a partition, read again before the first it hands over.

faust-streaming can lose the first records of a partition after an assignment: a record
fetched while its flow control is suspended (or stamped with the previous generation) is
skipped by the stream without being acked, and faust's commit accepts a one-offset gap at
the head (it cannot tell it from a transaction marker), so the next commit passes over
it. Seen as one lost alert per partition after a reconciler restart. So before the first
record of a partition after an assignment, the reconciler reads what lies between its
group's committed offset and that record, and processes it first. A record processed
twice is harmless: states remember the offsets they saw and repeat their alerts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Protocol

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from consumers.reconciler.step import Input
from infra.kafka_config import KafkaAccess, client_config
from infra.provenance import Headers, message_headers
from infra.serde.errors import Unproven

log = logging.getLogger("agentledger.reconciler")


class HeadReader(Protocol):
    """Reads a partition from its group's committed offset up to a given offset."""

    def missed(self, topic: str, partition: int, before: int) -> list[Input]:
        """The records of ``topic[partition]`` from the committed offset to ``before``."""
        ...


class KafkaHeads:
    """A :class:`HeadReader` over the group's committed offsets (read committed)."""

    def __init__(self, kafka: KafkaAccess, group: str, timeout_s: float = 10.0) -> None:
        """Read as ``group`` (offsets only: it never joins the group nor commits)."""
        self._timeout_s = timeout_s
        self._consumer = Consumer(client_config(kafka, {
            "group.id": group,
            "isolation.level": "read_committed", "enable.auto.commit": False,
            "enable.partition.eof": True,
            # a fetch that finds nothing new returns after 10 ms, not librdkafka's 500:
            # the reconciler waits on this read before it processes the partition
            "fetch.wait.max.ms": 10,
        }))  # fmt: skip
        self._known: set[str] = set()

    def missed(self, topic: str, partition: int, before: int) -> list[Input]:
        """The data records in [committed offset, ``before``) (markers take offsets, no record)."""
        [committed] = self._consumer.committed(
            [TopicPartition(topic, partition)], timeout=self._timeout_s
        )
        start = committed.offset if committed.offset >= 0 else OFFSET_BEGINNING
        if start != OFFSET_BEGINNING and start >= before:
            return []
        if topic not in self._known:
            # Without the topic's leaders in its metadata, librdkafka retries the first
            # offset lookup after a second: measured 1.0 s against 2 ms with them.
            self._consumer.list_topics(topic, timeout=self._timeout_s)
            self._known.add(topic)
        self._consumer.assign([TopicPartition(topic, partition, start)])
        found: list[Input] = []
        deadline = time.monotonic() + self._timeout_s
        try:
            while time.monotonic() < deadline:
                message = self._consumer.poll(0.5)
                if message is None:
                    continue
                offset = message.offset()
                if message.error() is not None or offset is None or offset >= before:
                    return found  # end of the partition, or the record faust handed over
                found.append(
                    Input(
                        topic,
                        partition,
                        offset,
                        message.key(),
                        message.value() or b"",
                        _headers(message),
                    )
                )
            log.warning("reading %s[%d] up to %d took over %.0f s", topic, partition, before,
                        self._timeout_s)  # fmt: skip
            return found
        finally:
            self._consumer.unassign()

    def close(self) -> None:
        """Leave the broker."""
        self._consumer.close()


class HeadGuard:
    """Asks the reader once per partition and assignment for the records faust skipped."""

    def __init__(self, reader: HeadReader, unchecked: Iterable[str] = ()) -> None:
        """``unchecked``: topics whose lost records do not matter (the ticks)."""
        self._reader = reader
        self._unchecked = set(unchecked)
        self._checked: set[tuple[str, int]] = set()

    def before(self, item: Input) -> list[Input]:
        """The records to process before ``item`` (none but after an assignment)."""
        place = (item.topic, item.partition)
        if place in self._checked or item.topic in self._unchecked:
            return []
        self._checked.add(place)
        missed = self._reader.missed(item.topic, item.partition, item.offset)
        if missed:
            log.warning(
                "faust skipped %d record(s) at the head of %s[%d] (offsets %s): processing them"
                " before offset %d", len(missed), item.topic, item.partition,
                [m.offset for m in missed], item.offset,
            )  # fmt: skip
        return missed

    def forget(self, places: Iterable[tuple[str, int]]) -> None:
        """Check these (topic, partition)s again (revoked: the next assignment starts afresh)."""
        self._checked.difference_update(places)


def _headers(message: Message) -> Headers:
    """The message's headers, or none if they cannot be read (the record is judged alone)."""
    try:
        return message_headers(message)
    except Unproven:
        return None
