"""The decider's Kafka side: a consumer group member that feeds batches to the decider.

Positions live in PostgreSQL with the decisions, not in Kafka: on every assignment the
consumer seeks to the stored positions, so a batch is applied once however often Kafka
redelivers it. Offsets are also committed to Kafka, but only so that lag is visible.
Several instances in one group share the partitions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from consumers.decider.attempt import Tally
from consumers.decider.decider import Decider, Halted
from consumers.decider.intake import Consumed
from domain.events.decisions import DecisionOutcome
from infra.batches import ready_batch
from infra.kafka_config import KafkaAccess, client_config, member_config
from infra.outages import OUTAGES
from infra.serde.deadletter import DeadLetter, count_delivered
from infra.serde.topic_serde import TopicSerde
from infra.telemetry.lag import LagReport
from infra.telemetry.metrics import APPROVALS, DECISION_SECONDS, PROPOSALS, REJECTIONS
from infra.topics import DEAD_LETTER_PRODUCER

log = logging.getLogger("agentledger.decider")

TRANSIENT = OUTAGES
"""A batch failing with an outage is retried as it is, never isolated."""
HALT_LOG_S = 60.0


@dataclass(frozen=True)
class ServiceConfig:
    """Where the decider reads, where its dead letters go, how it batches."""

    kafka: KafkaAccess
    group_id: str
    topic: str
    instance: str | None = None
    """This instance's name in the group (static membership), if the operator gave one."""
    batch_size: int = 500
    poll_timeout_s: float = 0.05
    reload_s: float = 5.0
    retry_backoff_s: float = 1.0
    hold_poll_s: float = 0.5
    """How often a decider held by the emergency stop looks whether it was lifted."""
    attempts_before_isolating: int = 3


class DeadLetterSink:
    """Publishes dead letters durably (flushed before the batch's position advances)."""

    def __init__(self, kafka: KafkaAccess, serde: TopicSerde) -> None:
        """Dead letters go to ``serde``'s topic, keyed by the origin's key."""
        self._serde = serde
        self._producer = Producer(
            client_config(kafka, {"enable.idempotence": True, **DEAD_LETTER_PRODUCER})
        )

    def __call__(self, letters: list[DeadLetter]) -> None:
        """Produce and flush ``letters``; raises if the broker did not take them."""
        failures: list[str] = []

        def delivered(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                failures.append(str(error))

        for letter in letters:
            payload = self._serde.serialize(letter)
            self._producer.produce(self._serde.topic, payload, letter.key, on_delivery=delivered)
        remaining = self._producer.flush(30)
        if remaining or failures:
            raise RuntimeError(f"dead letters not delivered: {remaining} pending, {failures[:3]}")
        count_delivered(letters)


class DeciderService:
    """Consume proposals, decide them in batches, until stopped."""

    def __init__(
        self, decider: Decider, config: ServiceConfig, reload: Callable[[], None] | None = None
    ) -> None:
        """``reload`` is called every ``config.reload_s`` (the bundle watcher)."""
        self.decider, self.config, self._reload = decider, config, reload
        self.ready = threading.Event()
        self.handled = 0
        self._halt_logged = 0.0

    def run(self, stop: threading.Event) -> None:
        """Decide until ``stop`` is set; transient failures are retried, never skipped."""
        reading = {
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "isolation.level": "read_committed", "fetch.wait.max.ms": 10,
        }  # fmt: skip
        group, instance = self.config.group_id, self.config.instance
        consumer = Consumer(member_config(self.config.kafka, group, instance, reading))
        consumer.subscribe([self.config.topic], on_assign=self._on_assign)
        next_reload = time.monotonic() + self.config.reload_s
        lag = LagReport("decider", group)
        try:
            while not stop.is_set():
                messages = ready_batch(consumer, self.config.batch_size, self.config.poll_timeout_s)
                lag(consumer)
                batch = [_consumed(m) for m in messages if _usable(m)]
                if batch:
                    self._handle(batch, stop)
                    offsets = _next_offsets(batch)
                    consumer.commit(offsets=offsets, asynchronous=True)
                if self._reload is not None and time.monotonic() >= next_reload:
                    self._reload()
                    next_reload = time.monotonic() + self.config.reload_s
        finally:
            consumer.close()

    def _handle(self, batch: list[Consumed], stop: threading.Event) -> None:
        """Apply ``batch``; if it keeps failing, isolate the record at fault and dead-letter it.

        Outages (registry, database, broker) are retried for as long as they last; an
        error that follows one record is not allowed to stall the partition behind it.
        """
        failures, began = 0, time.monotonic()
        while not stop.is_set():
            try:
                tally = self.decider.handle(batch)
            except Halted as exc:
                self._halted(str(exc))
                stop.wait(self.config.hold_poll_s)
                continue
            except TRANSIENT as exc:
                log.warning("transient failure, retrying the batch: %s", exc)
            except Exception as exc:
                failures += 1
                log.exception("batch of %d failed (%d times)", len(batch), failures)
                if failures >= self.config.attempts_before_isolating:
                    if len(batch) == 1:
                        self.decider.give_up(batch[0], exc)
                        self.handled += 1
                        return
                    for one in batch:
                        self._handle([one], stop)
                    return
            else:
                self.handled += len(batch)
                log.debug("batch of %d: %s", len(batch), tally)
                _count(tally, time.monotonic() - began)
                return
            stop.wait(self.config.retry_backoff_s)

    def _halted(self, stop: str) -> None:
        """Say once a minute that proposals wait (and why), not once a poll."""
        if time.monotonic() - self._halt_logged >= HALT_LOG_S:
            log.warning("proposals wait, nothing is decided: %s", stop)
            self._halt_logged = time.monotonic()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        stored = self.decider.next_offsets(self.config.topic)
        for partition in partitions:
            if partition.partition in stored:
                partition.offset = stored[partition.partition]
        consumer.assign(partitions)
        log.info("assigned %s", [(p.partition, p.offset) for p in partitions])
        self.ready.set()


def _count(tally: Tally, seconds: float) -> None:
    """Report what a batch became: outcomes, rejections by reason, time per proposal."""
    for outcome, count in tally.decided.items():
        PROPOSALS.labels(outcome.value).inc(count)
        if outcome is DecisionOutcome.REQUIRE_APPROVAL:
            APPROVALS.labels("requested").inc(count)
    if tally.rejected:
        PROPOSALS.labels("rejected").inc(tally.rejected)
    for reason, count in tally.rejections.items():
        REJECTIONS.labels(reason).inc(count)
    for _ in range(sum(tally.decided.values()) + tally.rejected):
        DECISION_SECONDS.observe(seconds)


def _usable(message: Message) -> bool:
    error = message.error()
    if error is None:
        return True
    if error.code() != KafkaError._PARTITION_EOF:  # noqa: SLF001  # librdkafka's constant
        log.warning("consumer error: %s", error)
    return False


def _consumed(message: Message) -> Consumed:
    headers: dict[str, bytes] = {}
    try:
        raw = message.headers() or []
    except Exception:  # noqa: BLE001  # a header name not UTF-8 (SystemError): no headers
        log.warning("headers of %s[%s]@%s cannot be read; left out", message.topic(),
                    message.partition(), message.offset())  # fmt: skip
        raw = []
    for name, value in raw.items() if isinstance(raw, dict) else raw:
        headers[name] = value if isinstance(value, bytes) else str(value or "").encode()
    return Consumed(
        topic=message.topic() or "", partition=message.partition() or 0,
        offset=message.offset() or 0, key=message.key(), value=message.value(),
        headers=headers,
    )  # fmt: skip


def _next_offsets(batch: list[Consumed]) -> list[TopicPartition]:
    last: dict[tuple[str, int], int] = {}
    for consumed in batch:
        key = (consumed.topic, consumed.partition)
        last[key] = max(last.get(key, -1), consumed.offset)
    return [TopicPartition(t, p, offset + 1) for (t, p), offset in last.items()]
