"""The one way a service follows Kafka topics as a consumer group member.

The runner owns the consumer: cooperative-sticky assignment (a member joining or leaving
moves only the partitions it must), the rebalance callbacks, the poll loop and its
batches, the offsets committed after a batch, lag reporting and the stop event. The
service is a :class:`Handler` of batches and keeps its own positions where its writes
are: on assignment it says where each partition resumes, so a batch redelivered after
a rebalance or a crash has no second effect.

Records of a partition revoked or lost while a batch was being taken are dropped from
it: the member that owns the partition now reads them from the positions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from consumers.runtime.retry import RetryPolicy, Stopped
from infra.batches import ready_batch
from infra.kafka_config import KafkaAccess, member_config
from infra.telemetry.lag import LagReport

log = logging.getLogger("agentledger.runner")

READING: Mapping[str, Any] = {
    "enable.auto.commit": False, "auto.offset.reset": "earliest",
    "isolation.level": "read_committed", "partition.assignment.strategy": "cooperative-sticky",
}  # fmt: skip


class Handler(Protocol):
    """A service's side of the runner: what to do with a batch, and where to resume."""

    def assigned(self, partitions: list[TopicPartition]) -> None:
        """Set each new partition's ``offset`` to the handler's own position, if it keeps one."""

    def revoked(self, partitions: list[TopicPartition]) -> None:
        """Forget what is kept per partition: another member owns them now."""

    def handle(self, messages: list[Message], stop: threading.Event) -> None:
        """Handle ``messages`` (offset order per partition); :class:`Stopped` if stopped first."""


@dataclass(frozen=True)
class Subscription:
    """What a runner reads, as which group member, in which batches."""

    kafka: KafkaAccess
    group_id: str
    topics: Sequence[str]
    service: str
    """The service's name in the lag series."""
    instance: str | None = None
    """The member's name for static membership (``None``: dynamic)."""
    batch_size: int = 500
    poll_timeout_s: float = 0.1
    reading: Mapping[str, Any] = field(default_factory=dict)
    """Consumer settings added to :data:`READING` (e.g. ``fetch.wait.max.ms``)."""
    commit_sync: bool = False
    """Commit offsets synchronously (they are the service's positions) or not (lag only)."""


class Runner:
    """Feeds a handler batches from its subscription until stopped."""

    def __init__(
        self, handler: Handler, subscription: Subscription, *,
        tick: Callable[[threading.Event], None] | None = None,
        ready: threading.Event | None = None,
    ) -> None:  # fmt: skip
        """``tick`` runs after every poll (periodic work: reloads, due retries)."""
        self.handler, self.subscription, self._tick = handler, subscription, tick
        self.ready = ready or threading.Event()
        """Set once partitions are assigned (cleared when the runner stops)."""
        self._owned: set[tuple[str, int]] = set()
        self._stop = threading.Event()
        self._policy = RetryPolicy()

    def run(self, stop: threading.Event, *, while_: Callable[[], bool] = lambda: True) -> None:
        """Consume until ``stop`` is set or ``while_()`` is false; a fatal consumer error raises."""
        sub, self._stop = self.subscription, stop
        config = member_config(sub.kafka, sub.group_id, sub.instance, {**READING, **sub.reading})
        consumer = Consumer(config)
        consumer.subscribe(
            list(sub.topics), on_assign=self._on_assign, on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )  # fmt: skip
        lag = LagReport(sub.service, sub.group_id)
        try:
            while not stop.is_set() and while_():
                try:
                    ready = ready_batch(consumer, sub.batch_size, sub.poll_timeout_s)
                    batch = [m for m in ready if _usable(m) and _where(m) in self._owned]
                    lag(consumer)
                    if batch:
                        self.handler.handle(batch, stop)
                        self._commit(consumer, batch)
                    if self._tick is not None:
                        self._tick(stop)
                except Stopped:
                    return  # nothing past what was done is committed: it is read again
        finally:
            self.ready.clear()
            self._owned.clear()
            consumer.close()

    def _commit(self, consumer: Consumer, batch: list[Message]) -> None:
        """Commit the offsets past ``batch`` of the partitions still owned."""
        last: dict[tuple[str, int], int] = {}
        for message in batch:
            key = (message.topic() or "", message.partition() or 0)
            last[key] = max(last.get(key, -1), message.offset() or 0)
        offsets = [
            TopicPartition(t, p, o + 1) for (t, p), o in last.items() if (t, p) in self._owned
        ]
        if not offsets:
            return
        try:
            if self.subscription.commit_sync:
                consumer.commit(offsets=offsets, asynchronous=False)
            else:
                consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:  # a rebalance under way: the next batch commits again
            if exc.args and isinstance(exc.args[0], KafkaError) and exc.args[0].fatal():
                raise
            log.warning("offsets not committed (read again if this member stops): %s", exc)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # where a partition resumes is read from the handler's store: an outage is waited out
        self._policy.run(lambda: self.handler.assigned(partitions), self._stop)
        consumer.incremental_assign(partitions)
        self._owned |= {(p.topic, p.partition) for p in partitions}
        log.info("%s assigned %s", self.subscription.service,
                 [(p.topic, p.partition, p.offset) for p in partitions])  # fmt: skip
        self.ready.set()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget(consumer, partitions, "revoked")

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget(consumer, partitions, "lost")

    def _forget(self, consumer: Consumer, partitions: list[TopicPartition], how: str) -> None:
        self._owned -= {(p.topic, p.partition) for p in partitions}
        self.handler.revoked(partitions)
        consumer.incremental_unassign(partitions)
        log.info("%s %s %s", self.subscription.service, how,
                 [(p.topic, p.partition) for p in partitions])  # fmt: skip


def _usable(message: Message) -> bool:
    error = message.error()
    if error is None:
        return True
    if error.code() != KafkaError._PARTITION_EOF:  # noqa: SLF001  # librdkafka's constant
        log.warning("consumer error: %s", error)
    return False


def _where(message: Message) -> tuple[str | None, int | None]:
    return message.topic(), message.partition()
