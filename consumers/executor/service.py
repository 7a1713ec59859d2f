"""The executor's Kafka side: one active instance follows ``actions.v1``.

It holds a PostgreSQL advisory lock (a second instance waits as a standby and takes
over when the first dies). On start it re-drives every execution left in flight, then
executes each ``Authorized`` it reads, forwards each ``CompensationProposed``, and
runs retries whose backoff elapsed. Offsets are committed after the records are
handled; a redelivered record is harmless, the aggregate refuses a second execution.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from uuid import UUID, uuid4

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from consumers.executor.compensations import CompensationForwarder, CompensationNotRecorded
from consumers.executor.executor import Executor, Outcome
from consumers.relay.lock import RelayLock
from domain.events import Authorized, CompensationProposed
from domain.events.proposals import KafkaPosition
from domain.values import Record
from infra.batches import ready_batch
from infra.connectors.base import ConnectorUnavailable
from infra.kafka_config import KafkaAccess, member_config
from infra.ledger.execution_index import ExecutionIndex
from infra.outages import DATABASE_OUTAGES, OUTAGES
from infra.serde.deadletter import DeadLetter, dead_letter_for
from infra.serde.errors import BadRecord, ProcessingFailed
from infra.serde.topic_serde import TopicSerde
from infra.telemetry.lag import LagReport
from infra.telemetry.metrics import EXECUTIONS

log = logging.getLogger("agentledger.executor")
TRANSIENT: tuple[type[Exception], ...] = (ConnectorUnavailable, *OUTAGES)
"""The service outages, and a system of record that does not answer: waited out."""


@dataclass(frozen=True)
class ExecutorServiceConfig:
    """Where the executor reads and how often it looks for due retries."""

    kafka: KafkaAccess
    group_id: str
    topic: str
    poll_timeout_s: float = 0.1
    retry_poll_s: float = 0.5
    outage_backoff_s: float = 1.0
    attempts_before_giving_up: int = 3
    workers: int = 4
    """Records of different resources are handled in parallel lanes (one lane per key hash)."""


class _GaveUp(Exception):
    """A step kept failing for a reason of its own (its cause says which)."""


class ExecutorService:
    """Execute authorized actions until stopped."""

    def __init__(  # noqa: PLR0913  # the service wires its collaborators, all injected
        self,
        executor: Executor,
        index: ExecutionIndex,
        serde: TopicSerde,
        *,
        compensations: CompensationForwarder,
        dead_letter: Callable[[list[DeadLetter]], None],
        lock: RelayLock,
        config: ExecutorServiceConfig,
    ) -> None:
        """Read ``serde``'s topic as described by ``config``."""
        self.executor, self._index, self._serde = executor, index, serde
        self._compensations, self._lock, self.config = compensations, lock, config
        self.standing_by = lock.standing_by
        self._letters = dead_letter
        self.ready = threading.Event()
        self.active = threading.Event()
        """Set while this instance holds the lock and executes."""
        self.outcomes: dict[Outcome, int] = dict.fromkeys(Outcome, 0)
        self._counting = threading.Lock()
        self._pool = ThreadPoolExecutor(config.workers, thread_name_prefix="executor-lane")
        self._held_after: UUID | None = None
        """Where the next look at held actions starts (they are paged, in turn)."""

    def run(self, stop: threading.Event) -> None:
        """Stand by for the lock, execute while it is held, until ``stop`` is set.

        An instance that loses its lock's session (a database restart) or its seat in the
        group (another instance took the lock and joined) stands by again.
        """
        try:
            while self._lock.acquire(stop):
                try:
                    self._active(stop)
                except KafkaException as exc:  # fatal: fenced by the instance now active
                    log.warning("executor %s lost its group seat: %s", self.name, exc)
                finally:
                    self.active.clear()
                    self.ready.clear()  # the next seat's partitions are not assigned yet
                    self._lock.release()
                if not stop.is_set():
                    log.warning("executor %s is no longer active; standing by", self.name)
        finally:
            self._pool.shutdown(wait=True)

    def _active(self, stop: threading.Event) -> None:
        """Execute while the lock is held: re-drive what was in flight, then follow the topic."""
        log.info("executor %s active", self.name)
        self.active.set()
        # one static member for whichever instance is active: the standby that takes the
        # lock takes the dead one's partitions at once, without waiting out its session
        reading = {
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "isolation.level": "read_committed", "fetch.wait.max.ms": 50,
        }  # fmt: skip
        consumer = Consumer(
            member_config(self.config.kafka, self.config.group_id, "active", reading)
        )
        try:
            self._redrive(stop)
            consumer.subscribe([self.config.topic], on_assign=lambda *_: self.ready.set())
            next_retry, lag = 0.0, LagReport("executor", self.config.group_id)
            while not stop.is_set() and self._lock.held():
                ready = ready_batch(consumer, 200, self.config.poll_timeout_s)
                lag(consumer)
                messages = [m for m in ready if _ok(m)]
                self._handle_all(messages, stop)
                if messages:
                    consumer.commit(offsets=_next_offsets(messages), asynchronous=False)
                if time.monotonic() >= next_retry:
                    self._retries(stop)
                    next_retry = time.monotonic() + self.config.retry_poll_s
        finally:
            consumer.close()

    @property
    def name(self) -> str:
        """The executor's name (recorded on ExecutionStarted)."""
        return self.executor.config.name

    def _handle_all(self, messages: list[Message], stop: threading.Event) -> None:
        """Handle a batch: in order per resource key, different keys in parallel lanes.

        Records are read (signature, replay guard) here, in offset order, before the lanes.
        """
        lanes: dict[int, list[tuple[Message, Record | BadRecord]]] = {}
        for message in messages:
            lane = zlib.crc32(message.key() or b"") % self.config.workers
            lanes.setdefault(lane, []).append((message, self._read(message)))
        if len(lanes) == 1:
            for message, read in next(iter(lanes.values())):
                self._handle(message, read, stop)
            return

        def run(lane: list[tuple[Message, Record | BadRecord]]) -> None:
            for message, read in lane:
                self._handle(message, read, stop)

        for future in [self._pool.submit(run, lane) for lane in lanes.values()]:
            future.result()

    def _redrive(self, stop: threading.Event) -> None:
        """Finish what a crash left in flight, before anything new (outages waited out)."""
        while not stop.is_set():
            try:
                rows = self._index.in_flight()
            except DATABASE_OUTAGES as exc:
                log.warning("ledger unreachable, reading in-flight executions again: %s", exc)
                stop.wait(self.config.outage_backoff_s)
                continue
            for row in rows:
                self._settle(partial(self.executor.redrive, row), row.action_id, stop)
            return

    def _retries(self, stop: threading.Event) -> None:
        """Retry the executions due now, and try the held ones; during an outage, later."""
        try:
            held = self._index.held(after=self._held_after)
            rows = self._index.due_retries(self.executor.clock()) + held
        except DATABASE_OUTAGES as exc:
            log.warning("ledger unreachable, looking for due retries later: %s", exc)
            return
        self._held_after = held[-1].action_id if held else None  # the next page, or again
        for row in rows:
            self._settle(partial(self.executor.execute, row.action_id), row.action_id, stop)

    def _settle(self, work: Callable[[], object], action_id: UUID, stop: threading.Event) -> None:
        """Run ``work`` for an action found in the ledger; if it keeps failing, say so and go on.

        There is no record to dead-letter: the action stays as the ledger has it (in
        flight, or due for a retry) for an operator, and the executor serves the others.
        """
        try:
            self._persist(work, stop)
        except _GaveUp as exc:
            # _persist logged each failure with its traceback; one line says what it means
            log.error(  # noqa: TRY400
                "giving up on %s for now (it stays as recorded): %s", action_id, exc.__cause__
            )

    def _read(self, message: Message) -> Record | BadRecord:
        try:
            return self._serde.read_message(message)
        except BadRecord as exc:
            return exc

    def _handle(self, message: Message, record: Record | BadRecord, stop: threading.Event) -> None:
        if isinstance(record, BadRecord):
            self._dead_letter(message, record)
            return
        try:
            if isinstance(record, Authorized):
                self._persist(lambda: self.executor.execute(record.action_id), stop)
            elif isinstance(record, CompensationProposed):
                self._persist(lambda: self._compensations.forward(record), stop)
        except _GaveUp as exc:
            self._dead_letter(message, ProcessingFailed(str(exc.__cause__)[:2000]))
        except CompensationNotRecorded as exc:
            self._dead_letter(message, ProcessingFailed(str(exc)))

    def _dead_letter(self, message: Message, error: BadRecord) -> None:
        """Park a record this executor can never handle, with the reason, and move on."""
        log.error("dead-lettering %s[%s]@%s: %s",
                  message.topic(), message.partition(), message.offset(), error)  # fmt: skip
        origin = KafkaPosition(topic=message.topic() or "", partition=message.partition() or 0,
                               offset=message.offset() or 0)  # fmt: skip
        self._letters([
            dead_letter_for(
                error, origin=origin, key=message.key(), payload=message.value(), headers={},
                consumer=f"executor:{self.executor.config.name}", clock=self.executor.clock,
                new_id=uuid4,
            )
        ])  # fmt: skip

    def _persist(self, work: Callable[[], object], stop: threading.Event) -> None:
        """Run ``work`` until it is done: outages and a busy resource are waited out.

        Any other error is tried ``attempts_before_giving_up`` times, then :class:`_GaveUp`.
        """
        failures = 0
        while not stop.is_set():
            try:
                result = work()
            except TRANSIENT as exc:
                log.warning("transient failure, retrying: %s", exc)
            except CompensationNotRecorded:
                raise  # a forged record: retrying will not make the ledger hold it
            except Exception as exc:
                failures += 1
                log.exception("executor step failed (%d times)", failures)
                if failures >= self.config.attempts_before_giving_up:
                    raise _GaveUp from exc
            else:
                if result is not Outcome.BUSY:
                    if isinstance(result, Outcome):
                        with self._counting:
                            self.outcomes[result] += 1
                        EXECUTIONS.labels(result.value).inc()
                    return
                log.info("resource busy; trying again shortly")
            stop.wait(self.config.outage_backoff_s)


def _ok(message: Message) -> bool:
    error = message.error()
    if error is None:
        return True
    if error.code() != KafkaError._PARTITION_EOF:  # noqa: SLF001  # librdkafka's constant
        log.warning("consumer error: %s", error)
    return False


def _next_offsets(messages: list[Message]) -> list[TopicPartition]:
    last: dict[tuple[str, int], int] = {}
    for message in messages:
        key = (message.topic() or "", message.partition() or 0)
        last[key] = max(last.get(key, -1), message.offset() or 0)
    return [TopicPartition(t, p, offset + 1) for (t, p), offset in last.items()]
