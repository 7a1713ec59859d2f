"""The executor's Kafka side: one active instance follows ``actions.v1``.

It holds a PostgreSQL advisory lock (a second instance waits as a standby and takes
over when the first dies). On start it re-drives every execution left in flight, then,
as a handler of the consumer runner, executes each ``Authorized`` it reads, forwards
each ``CompensationProposed``, and runs retries whose backoff elapsed. Offsets are
committed after the records are handled; a redelivered record is harmless, the
aggregate refuses a second execution.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from uuid import UUID, uuid4

from confluent_kafka import KafkaException, Message, TopicPartition
from opentelemetry import trace

from consumers.executor.compensations import CompensationForwarder, CompensationNotRecorded
from consumers.executor.executor import Executor, Outcome
from consumers.executor.spans import execution_span
from consumers.relay.lock import RelayLock
from consumers.runtime.retry import GaveUp, RetryPolicy, Stopped
from consumers.runtime.runner import Runner, Subscription
from domain.events import Authorized, CompensationProposed
from domain.events.proposals import KafkaPosition
from domain.values import Record
from infra.connectors.base import ConnectorUnavailable
from infra.kafka_config import KafkaAccess
from infra.ledger.execution_index import ExecutionIndex
from infra.ledger.traced import resumed_span
from infra.outages import DATABASE_OUTAGES, OUTAGES
from infra.serde.deadletter import DeadLetter, dead_letter_for
from infra.serde.errors import BadRecord, ProcessingFailed
from infra.serde.topic_serde import TopicSerde
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
        self._next_retry = 0.0
        self._policy = RetryPolicy(
            attempts=config.attempts_before_giving_up, backoff_s=config.outage_backoff_s,
            max_backoff_s=2 * config.outage_backoff_s, waited_out=TRANSIENT,
            never_retried=(CompensationNotRecorded,),
        )  # fmt: skip

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
        try:
            self._redrive(stop)
        except Stopped:
            return
        # one static member for whichever instance is active: the standby that takes the
        # lock takes the dead one's partitions at once, without waiting out its session
        config = self.config
        subscription = Subscription(
            config.kafka, config.group_id, [config.topic], "executor", "active", 200,
            config.poll_timeout_s, {"fetch.wait.max.ms": 50}, commit_sync=True,
        )  # fmt: skip
        runner = Runner(self, subscription, tick=self._tick, ready=self.ready)
        runner.run(stop, while_=self._lock.held)

    def assigned(self, partitions: list[TopicPartition]) -> None:
        """Resume at the committed offsets (the ledger refuses a redelivered execution)."""

    def revoked(self, partitions: list[TopicPartition]) -> None:
        """Nothing is kept per partition."""

    def handle(self, messages: list[Message], stop: threading.Event) -> None:
        """Execute or forward ``messages``; :class:`Stopped` if shutdown comes first."""
        self._handle_all(messages, stop)

    def _tick(self, stop: threading.Event) -> None:
        """Run the retries that are due, every ``retry_poll_s``."""
        if time.monotonic() >= self._next_retry:
            self._retries(stop)
            self._next_retry = time.monotonic() + self.config.retry_poll_s

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

        futures = [self._pool.submit(run, lane) for lane in lanes.values()]
        wait(futures)  # every lane ends before a stop lets the lock go, errors or not
        for future in futures:
            future.result()

    def _redrive(self, stop: threading.Event) -> None:
        """Finish what a crash left in flight, before anything new (outages waited out)."""
        for row in self._policy.run(self._index.in_flight, stop):
            self._settle(partial(self.executor.redrive, row), row.action_id, stop, "redrive")

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
            self._settle(
                partial(self.executor.execute, row.action_id), row.action_id, stop, "retry"
            )

    def _settle(
        self, work: Callable[[], object], action_id: UUID, stop: threading.Event, why: str
    ) -> None:
        """Run ``work`` for an action found in the ledger; if it keeps failing, say so and go on.

        There is no record to dead-letter: the action stays as the ledger has it (in
        flight, or due for a retry) for an operator, and the executor serves the others.
        """
        try:
            with resumed_span(self.executor.ledger, action_id, f"execute ({why})"):
                self._persist(work, stop)
        except GaveUp as exc:
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
            self._dead_letter(message, record, stop)
            return
        try:
            if isinstance(record, Authorized):
                with execution_span(message, record):
                    self._persist(lambda: self.executor.execute(record.action_id), stop)
            elif isinstance(record, CompensationProposed):
                self._persist(lambda: self._compensations.forward(record), stop)
        except GaveUp as exc:
            self._dead_letter(message, ProcessingFailed(str(exc.__cause__)[:2000]), stop)
        except CompensationNotRecorded as exc:
            self._dead_letter(message, ProcessingFailed(str(exc)), stop)

    def _dead_letter(self, message: Message, error: BadRecord, stop: threading.Event) -> None:
        """Park a record this executor can never handle, with the reason, and move on."""
        log.error("dead-lettering %s[%s]@%s: %s",
                  message.topic(), message.partition(), message.offset(), error)  # fmt: skip
        origin = KafkaPosition(topic=message.topic() or "", partition=message.partition() or 0,
                               offset=message.offset() or 0)  # fmt: skip
        letter = dead_letter_for(
            error, origin=origin, key=message.key(), payload=message.value(), headers={},
            consumer=f"executor:{self.executor.config.name}", clock=self.executor.clock,
            new_id=uuid4,
        )  # fmt: skip
        self._policy.run(lambda: self._letters([letter]), stop)

    def _persist(self, work: Callable[[], object], stop: threading.Event) -> None:
        """Run ``work`` until it is done: outages and a busy resource are waited out.

        Any other error is tried ``attempts_before_giving_up`` times, then :class:`GaveUp`.
        """
        result = self._policy.run(work, stop, again=lambda done: done is Outcome.BUSY)
        if isinstance(result, Outcome):
            trace.get_current_span().set_attribute("agentledger.outcome", result.value)
            with self._counting:
                self.outcomes[result] += 1
            EXECUTIONS.labels(result.value).inc()
