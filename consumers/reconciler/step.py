"""One input event through the reconciler: decode, judge, send the alerts it causes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from consumers.reconciler.rules import Reconciler, Source
from domain.events.proposals import KafkaPosition
from infra.partitioner import partition_for
from infra.serde.deadletter import dead_letter_for
from infra.serde.errors import BadRecord
from infra.serde.topic_serde import TopicSerde

log = logging.getLogger("agentledger.reconciler")


class Counters:
    """What the reconciler did since it started (for logs and the benchmark)."""

    def __init__(self) -> None:
        """All zero."""
        self.records = 0
        self.alerts = 0
        self.dead_letters = 0


@dataclass(frozen=True)
class Outputs:
    """Where the step sends: faust topics for alerts and dead letters, with their serdes."""

    drift: Any
    drift_serde: TopicSerde
    letters: Any
    letters_serde: TopicSerde


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

    async def __call__(self, event: Any) -> None:  # noqa: ANN401  # a faust event
        """Judge the event; send its alerts (or its dead letter)."""
        message = event.message
        topic, partition, offset = message.topic, message.partition, message.offset
        if topic == self.ticks_topic:
            out = self.reconciler.tick(Source("ticks", partition, offset), int(event.value))
        else:
            name, serde = self.inputs[topic]
            try:
                record = serde.deserialize(event.value)
            except BadRecord as error:
                await self._dead_letter(error, message, event.value)
                return
            self.counters.records += 1
            out = self.reconciler.handle(Source(name, partition, offset), record)
        for key, alert in out:
            await self.outputs.drift.send(
                key=key, value=self.outputs.drift_serde.serialize(alert),
                partition=partition_for(key, self.partitions),
            )  # fmt: skip
            self.counters.alerts += 1
            log.info("%s %s", type(alert).__name__, alert.model_dump_json())

    async def _dead_letter(self, error: BadRecord, message: Any, payload: bytes) -> None:  # noqa: ANN401  # a faust message
        topic, partition, offset = message.topic, message.partition, message.offset
        letter = dead_letter_for(
            error, origin=KafkaPosition(topic=topic, partition=partition, offset=offset),
            key=message.key, payload=payload, headers={}, consumer=self.consumer,
            clock=self.clock,
            new_id=partial(uuid5, NAMESPACE_URL, f"dead:{topic}:{partition}:{offset}"),
        )  # fmt: skip
        log.warning("dead-lettering %s[%d]@%d: %s", topic, partition, offset, error)
        await self.outputs.letters.send(
            key=message.key, value=self.outputs.letters_serde.serialize(letter),
            partition=partition,
        )  # fmt: skip
        self.counters.dead_letters += 1
