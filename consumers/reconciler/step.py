"""One input event through the reconciler: decode, judge, send the alerts it causes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Protocol
from uuid import NAMESPACE_URL, uuid5

from consumers.reconciler.rules import Reconciler, Source
from consumers.reconciler.spans import drift_traced, reconciling
from domain.events import DomainEvent
from domain.events.proposals import KafkaPosition
from infra.partitioner import partition_for
from infra.provenance import Headers, RecordSigner
from infra.serde.deadletter import count_delivered, dead_letter_for
from infra.serde.errors import BadRecord
from infra.serde.topic_serde import TopicSerde

log = logging.getLogger("agentledger.reconciler")

TICK_AHEAD_MS = 5_000
"""How far ahead of the reconciler's clock a tick may be (clock steps between processes)."""
SUMMARY_MS = 60_000
"""How often (in the ticks' time) the counters are logged at INFO."""


@dataclass(frozen=True)
class Input:
    """One record the reconciler reads: where it is, and its raw key and value."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Headers = None

    @classmethod
    def of(cls, event: Any) -> Input:  # noqa: ANN401  # a faust event
        """The record of a faust event."""
        message = event.message
        return cls(
            message.topic, message.partition, message.offset, message.key, event.value,
            message.headers,
        )  # fmt: skip


class Counters:
    """What the reconciler did since it started (for logs and the benchmark)."""

    def __init__(self) -> None:
        """All zero."""
        self.records = 0
        self.alerts = 0
        self.dead_letters = 0
        self.logged_at_ms = 0

    def summary(self) -> str:
        """One line for the log."""
        return (
            f"since start: {self.records} records, {self.alerts} alerts,"
            f" {self.dead_letters} dead letters"
        )


class Send(Protocol):
    """Sends a record inside the open transaction of the input partition that caused it."""

    def __call__(  # noqa: PLR0913  # a record's place, bytes and headers, and its cause
        self, topic: str, key: bytes | None, value: bytes, partition: int,
        source: tuple[str, int], *, headers: list[tuple[str, bytes]] | None = None,
    ) -> Awaitable[object]:  # fmt: skip
        """Hand the record to the producer of ``source``'s (topic, partition) transaction."""
        ...


@dataclass(frozen=True)
class Outputs:
    """Where the step sends: the serdes (and topics) of alerts and dead letters, and how."""

    drift_serde: TopicSerde
    letters_serde: TopicSerde
    send: Send
    signer: RecordSigner
    """Signs each alert: readers of drift.v1 act on the reconciler's only."""


class Step:
    """Applies one faust event (an action, an observation or a tick) to the reconciler."""

    def __init__(  # noqa: PLR0913  # a step names its inputs, outputs and collaborators
        self,
        reconciler: Reconciler,
        inputs: dict[str, tuple[str, TopicSerde]],
        outputs: Outputs,
        *,
        ticks_topic: str,
        partitions: int,
        consumer: str,
        clock: Callable[[], datetime],
        counters: Counters,
    ) -> None:
        """``inputs``: full topic name → (its unprefixed name, its serde)."""
        self.reconciler, self.inputs, self.outputs = reconciler, inputs, outputs
        self.ticks_topic, self.partitions, self.consumer = ticks_topic, partitions, consumer
        self.clock, self.counters = clock, counters

    async def __call__(self, item: Input) -> None:
        """Judge the input; send its alerts (or its dead letter)."""
        topic, partition, offset = item.topic, item.partition, item.offset
        if topic == self.ticks_topic:
            now_ms = self._tick_time(item)
            if now_ms is None:
                return
            out = self.reconciler.tick(Source("ticks", partition, offset), now_ms)
            if now_ms - self.counters.logged_at_ms >= SUMMARY_MS:
                self.counters.logged_at_ms = now_ms
                log.info("%s", self.counters.summary())
        else:
            name, serde = self.inputs[topic]
            try:
                record = serde.read(
                    item.value, partition=partition, key=item.key, headers=item.headers,
                    offset=offset,
                )  # fmt: skip
            except BadRecord as error:
                await self._dead_letter(error, item)
                return
            self.counters.records += 1
            with reconciling(name, item.headers):
                out = self.reconciler.handle(Source(name, partition, offset), record)
                await self._send(out, (topic, partition))
            return
        await self._send(out, (topic, partition))

    async def _send(self, out: list[tuple[bytes, DomainEvent]], source: tuple[str, int]) -> None:
        """Send the alerts a record (or a tick) caused, in its partition's transaction."""
        serde, signer = self.outputs.drift_serde, self.outputs.signer
        for key, alert in out:
            value, place = serde.serialize(alert), partition_for(key, self.partitions)
            headers = [*signer.headers(serde.topic, place, key, value), *drift_traced(alert)]
            await self.outputs.send(serde.topic, key, value, place, source, headers=headers)
            self.counters.alerts += 1
            if log.isEnabledFor(logging.DEBUG):  # alerts are on drift.v1: the log counts them
                log.debug("%s %s", type(alert).__name__, alert.model_dump_json())

    def _tick_time(self, item: Input) -> int | None:
        """The time a tick carries, unless it is not a time or one this clock has not reached.

        Only the reconciler ticks, with this clock: a tick from the future was written by
        someone else, and would run out every settle window at once.
        """
        try:
            at_ms = int(item.value)
        except ValueError:
            log.warning("ignoring tick %s[%d]@%d: not a time", item.topic, item.partition,
                        item.offset)  # fmt: skip
            return None
        if at_ms > self.clock().timestamp() * 1000 + TICK_AHEAD_MS:
            log.warning("ignoring tick %s[%d]@%d: %d ms is ahead of this clock", item.topic,
                        item.partition, item.offset, at_ms)  # fmt: skip
            return None
        return at_ms

    async def _dead_letter(self, error: BadRecord, item: Input) -> None:
        topic, partition, offset = item.topic, item.partition, item.offset
        letter = dead_letter_for(
            error, origin=KafkaPosition(topic=topic, partition=partition, offset=offset),
            key=item.key, payload=item.value, headers={}, consumer=self.consumer,
            clock=self.clock,
            new_id=partial(uuid5, NAMESPACE_URL, f"dead:{topic}:{partition}:{offset}"),
        )  # fmt: skip
        log.warning("dead-lettering %s[%d]@%d: %s", topic, partition, offset, error)
        serde = self.outputs.letters_serde
        await self.outputs.send(
            serde.topic, item.key, serde.serialize(letter), partition, (topic, partition)
        )
        count_delivered([letter])  # sent in faust's transaction; counted as sent
        self.counters.dead_letters += 1
