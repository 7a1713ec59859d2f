"""The decider's Kafka side: a handler of proposal batches, run by the consumer runner.

Positions live in PostgreSQL with the decisions, not in Kafka: on every assignment the
partition resumes at its stored position, so a batch is applied once however often
Kafka redelivers it, and through any rebalance. Offsets are also committed to Kafka,
but only so that lag is visible. Several instances in one group share the partitions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Message, TopicPartition

from consumers.decider.attempt import Tally
from consumers.decider.decider import Decider, Halted
from consumers.decider.intake import Consumed
from consumers.runtime.retry import GaveUp, RetryPolicy
from consumers.runtime.runner import Runner, Subscription
from domain.events.decisions import DecisionOutcome
from infra.batches import headers_of
from infra.kafka_config import KafkaAccess
from infra.outages import OUTAGES
from infra.telemetry.metrics import APPROVALS, DECISION_SECONDS, PROPOSALS, REJECTIONS

log = logging.getLogger("agentledger.decider")

HALT_LOG_S = 60.0


@dataclass(frozen=True)
class ServiceConfig:
    """Where the decider reads, how it batches, how often it reloads its bundle."""

    kafka: KafkaAccess
    group_id: str
    topic: str
    instance: str | None = None
    """This instance's name in the group (static membership), if the operator gave one."""
    batch_size: int = 500
    poll_timeout_s: float = 0.05
    reload_s: float = 5.0
    attempts_before_isolating: int = 3


class DeciderHandler:
    """Decides batches; a batch that keeps failing is split until the record at fault is found.

    Outages (registry, database, broker) and the emergency stop are waited out; an error
    that follows one record is not allowed to stall the partition behind it.
    """

    def __init__(self, decider: Decider, topic: str, attempts: int = 3) -> None:
        """Handle ``topic``'s records with ``decider``."""
        self.decider, self._topic = decider, topic
        self.handled = 0
        self._halt_logged = 0.0
        self._policy = RetryPolicy(  # a lifted emergency stop is seen within a second
            attempts=attempts, backoff_s=0.5, max_backoff_s=1.0, waited_out=(Halted, *OUTAGES),
            on_wait=self._waiting,
        )  # fmt: skip

    def assigned(self, partitions: list[TopicPartition]) -> None:
        """Resume each partition at the position stored with the decisions."""
        stored = self.decider.next_offsets(self._topic)
        for partition in partitions:  # no position yet: from the start, whatever Kafka holds
            partition.offset = stored.get(partition.partition, OFFSET_BEGINNING)

    def revoked(self, partitions: list[TopicPartition]) -> None:
        """Nothing is kept per partition beyond the stored positions (read again on assignment)."""

    def handle(self, messages: list[Message], stop: threading.Event) -> None:
        """Decide ``messages``; :class:`Stopped` if shutdown comes first."""
        self._decide([_consumed(m) for m in messages], stop)

    def _decide(self, batch: list[Consumed], stop: threading.Event) -> None:
        began = time.monotonic()
        try:
            tally = self._policy.run(lambda: self.decider.handle(batch), stop)
        except GaveUp as exc:
            if len(batch) > 1:
                for one in batch:
                    self._decide([one], stop)
                return
            cause = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
            self._policy.run(lambda: self.decider.give_up(batch[0], cause), stop)
            self.handled += 1
            return
        self.handled += len(batch)
        log.debug("batch of %d: %s", len(batch), tally)
        _count(tally, time.monotonic() - began)

    def _waiting(self, exc: BaseException) -> None:
        """Say once a minute that proposals wait for the emergency stop; each outage once."""
        if not isinstance(exc, Halted):
            log.warning("transient failure, retrying the batch: %s", exc)
        elif time.monotonic() - self._halt_logged >= HALT_LOG_S:
            log.warning("proposals wait, nothing is decided: %s", exc)
            self._halt_logged = time.monotonic()


class DeciderService:
    """Consume proposals and decide them in batches, until stopped."""

    def __init__(
        self, decider: Decider, config: ServiceConfig, reload: Callable[[], None] | None = None
    ) -> None:
        """``reload`` is called every ``config.reload_s`` (the bundle watcher)."""
        self.decider, self.config, self._reload = decider, config, reload
        self.ready = threading.Event()
        self._handler = DeciderHandler(decider, config.topic, config.attempts_before_isolating)
        self._next_reload = 0.0

    @property
    def handled(self) -> int:
        """Records handled so far (decided, rejected, skipped or dead-lettered)."""
        return self._handler.handled

    def run(self, stop: threading.Event) -> None:
        """Decide until ``stop`` is set."""
        config = self.config
        subscription = Subscription(
            config.kafka, config.group_id, [config.topic], "decider", config.instance,
            config.batch_size, config.poll_timeout_s, {"fetch.wait.max.ms": 10},
        )  # fmt: skip
        self._next_reload = time.monotonic() + config.reload_s
        Runner(self._handler, subscription, tick=self._tick, ready=self.ready).run(stop)

    def _tick(self, _stop: threading.Event) -> None:
        if self._reload is not None and time.monotonic() >= self._next_reload:
            self._next_reload = time.monotonic() + self.config.reload_s
            try:
                self._reload()
            except OUTAGES as exc:  # the bundle in force stays; the next reload tries again
                log.warning("bundle not reloaded: %s", exc)


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


def _consumed(message: Message) -> Consumed:
    return Consumed(
        topic=message.topic() or "", partition=message.partition() or 0,
        offset=message.offset() or 0, key=message.key(), value=message.value(),
        headers=headers_of(message),
    )  # fmt: skip
