"""One batch of consumed proposals -> one ledger transaction (decisions, rejections, position).

Every record of a batch ends as a decision, a ``ProposalRejected`` with a reason, or a
dead letter. The batch's effects, its decision rows and inputs, and the consumer's new
Kafka positions commit together, so a redelivered proposal has no second effect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from consumers.decider.attempt import Attempt, Poisoned, Tally
from consumers.decider.authentication import Attester
from consumers.decider.intake import Consumed, Intake, Malformed, Undecodable, read
from consumers.decider.spans import decision_spans
from domain.context import CommandContext
from domain.events.proposals import Reason
from domain.fleet import describe_stop
from domain.ids import rejection_id
from infra.ledger.commands import Commands
from infra.ledger.ledger import Ledger
from infra.ledger.positions import KafkaPositions
from infra.ledger.recorder import AlreadyProcessed, LedgerRecorder, SideWrite
from infra.policy.engine import PolicyEngine
from infra.policy.records import DecisionRecords
from infra.serde.deadletter import DeadLetter, dead_letter_for
from infra.serde.errors import ProcessingFailed
from infra.serde.topic_serde import TopicSerde
from infra.telemetry.tracing import action_spans
from projections.actual import Actual

log = logging.getLogger("agentledger.decider")

CONFLICT_RETRIES = 5


class Halted(Exception):  # a state, not a failure: the batch waits
    """The emergency stop holds: the batch is not decided, and waits in Kafka until resumed."""


@dataclass(frozen=True)
class DeciderConfig:
    """Identity and limits of a decider."""

    consumer: str = "decider"
    history_limit: int = 0
    attesters: Mapping[str, Attester] = field(default_factory=dict)
    """The services whose attestation vouches for a proposal, by key id."""


class Decider:
    """Decides batches of consumed proposals through the ledger."""

    def __init__(  # noqa: PLR0913  # the decider joins store, serde, policy, clock and ids
        self, ledger: Ledger, serde: TopicSerde, engine: PolicyEngine, *,
        shadow: PolicyEngine | None = None, clock: Callable[[], datetime],
        new_id: Callable[[], UUID], dead_letter: Callable[[list[DeadLetter]], None],
        config: DeciderConfig | None = None,
        actual: Callable[[Collection[str]], Mapping[str, Actual]] = lambda _keys: {},
    ) -> None:  # fmt: skip
        """``dead_letter`` must durably publish the letters before returning.

        ``actual(keys)`` reads the observed state of resources (the actual-state view).
        """
        recorder = ledger.recorder
        if not isinstance(recorder, LedgerRecorder):
            raise TypeError("the decider needs the ledger's LedgerRecorder (side writes)")
        self.ledger, self.serde, self.engine, self.shadow = ledger, serde, engine, shadow
        self.clock, self.new_id, self.dead_letter = clock, new_id, dead_letter
        self.actual = actual
        self.config = config or DeciderConfig()
        self.records = DecisionRecords(recorder)
        self.positions = KafkaPositions(recorder)
        self._known: dict[str, dict[int, int]] = {}

    def next_offsets(self, topic: str) -> dict[int, int]:
        """Where this decider resumes in each partition of ``topic`` (read from the ledger)."""
        stored = self._known[topic] = self.positions.load(self.config.consumer, topic)
        return dict(stored)

    def publish_bundle(self) -> bool:
        """Record PolicyBundlePublished for the active bundle unless already recorded.

        Deciders started together race to record it: the loser finds it recorded.
        """
        bundle = self.engine.bundle
        try:
            with self.ledger.batch(self._context(self.clock())) as tx:
                return tx.publish_bundle(
                    digest=bundle.digest, version=bundle.version, source=bundle.source,
                    files=bundle.files,
                )  # fmt: skip
        except IntegrityError:
            log.info("bundle %s was recorded by another decider", bundle.digest[:12])
            return False

    def handle(self, batch: Sequence[Consumed]) -> Tally:
        """Apply ``batch`` exactly once: redelivered records are skipped, dead letters too."""
        items = self._unprocessed([read(consumed, self.serde) for consumed in batch])
        if not items:
            return Tally(skipped=len(batch))
        stop = self.stop_in_force()
        if stop is not None:
            raise Halted(stop)
        letters = [self._letter(item) for item in items if isinstance(item, Undecodable)]
        if letters:
            self.dead_letter(letters)
        with action_spans(decision_spans(items, self.engine.digest)):
            return self._decide(batch, items, letters)

    def _decide(
        self, batch: Sequence[Consumed], items: list[Intake], letters: list[DeadLetter]
    ) -> Tally:
        """Apply ``items`` in one transaction, again while concurrent writers conflict."""
        poisoned: dict[int, Reason] = {}
        for _ in range(CONFLICT_RETRIES + len(items)):
            try:
                tally = self._apply(items, poisoned)
            except Poisoned as exc:
                poisoned[exc.index] = exc.reason
            except AlreadyProcessed as exc:
                log.info("skipping records applied before: %s", exc)
                self._known.clear()  # another instance moved on: read the positions again
                items, poisoned = self._unprocessed(items), {}
                if not items:
                    return Tally(skipped=len(batch))
            except IntegrityError as exc:  # a concurrent decider changed an agent: re-read
                log.info("batch conflicted with a concurrent writer, retrying: %s", exc)
            else:
                self._passed(items)
                tally.dead_letters = len(letters)
                tally.skipped = len(batch) - len(items)
                return tally
        raise RuntimeError(f"a batch of {len(batch)} records could not be applied")

    def stop_in_force(self) -> str | None:
        """The emergency stop, if one holds (checked again, relied on, as a batch saves)."""
        with self.ledger.batch(self._context(self.clock())) as tx:
            fleet = tx.fleet()
        return None if fleet is None or fleet.stop is None else describe_stop(fleet.stop)

    def give_up(self, consumed: Consumed, error: Exception) -> None:
        """Dead-letter a record that keeps failing for a reason of its own, and move past it."""
        failed = Undecodable(consumed, ProcessingFailed(f"{type(error).__name__}: {error}"[:2000]))
        self.dead_letter([self._letter(failed)])
        with self.ledger.batch(self._context(self.clock())) as tx:
            tx.uow.side_writes.extend(self._advance([failed]))
        self._passed([failed])

    def _apply(self, items: list[Intake], poisoned: dict[int, Reason]) -> Tally:
        now = self.clock()
        proposals = [item.record for item in items if not isinstance(item, Undecodable | Malformed)]
        history = self.records.history(
            {p.agent_id for p in proposals}, {(p.agent_id, p.resource.key) for p in proposals},
            now_ms=int(now.timestamp() * 1000), limit=self.config.history_limit,
        )  # fmt: skip
        attempts: list[Attempt] = []
        actual = self.actual({p.resource.key for p in proposals})

        def work(tx: Commands) -> None:
            attempt = Attempt(
                tx=tx, now=now, history=history.copy(), engine=self.engine,
                shadow=self.shadow, history_limit=self.config.history_limit, poisoned=poisoned,
                actual=actual, attesters=self.config.attesters,
            )  # fmt: skip
            attempts.append(attempt)
            stop = tx.stop_in_force()
            if stop is not None:  # recorded since handle() looked: nothing of the batch is saved
                raise Halted(stop)
            attempt.apply(items)
            tx.uow.side_writes.extend(self.records.writes(attempt.decided))
            tx.uow.side_writes.extend(self._advance(items))

        self.ledger.run(self._context(now), work)
        return attempts[-1].tally

    def _letter(self, item: Undecodable) -> DeadLetter:
        consumed = item.consumed
        return dead_letter_for(
            item.error, origin=consumed.position, key=consumed.key, payload=consumed.value,
            headers=consumed.headers, consumer=self.config.consumer, clock=self.clock,
            new_id=lambda: rejection_id(consumed.source),
        )  # fmt: skip

    def _advance(self, items: Sequence[Intake]) -> list[SideWrite]:
        spans: dict[tuple[str, int], tuple[int, int]] = {}
        for item in items:
            c = item.consumed
            first, last = spans.get((c.topic, c.partition), (c.offset, c.offset))
            spans[c.topic, c.partition] = (min(first, c.offset), max(last, c.offset))
        return [
            self.positions.advance(self.config.consumer, topic, partition, first, last + 1)
            for (topic, partition), (first, last) in sorted(spans.items())
        ]

    def _unprocessed(self, items: list[Intake]) -> list[Intake]:
        """The items past the positions this decider knows (read once, then kept up to date).

        Known positions can only lag the ledger's (another instance moved on after a
        rebalance): the advance in the batch's transaction then refuses the batch as
        :class:`AlreadyProcessed`, and the positions are read again.
        """
        offsets = {topic: self._known_offsets(topic) for topic in {i.consumed.topic for i in items}}
        return [
            item for item in items
            if item.consumed.offset >= offsets[item.consumed.topic].get(item.consumed.partition, 0)
        ]  # fmt: skip

    def _known_offsets(self, topic: str) -> dict[int, int]:
        known = self._known.get(topic)
        return known if known is not None else self.next_offsets(topic)

    def _passed(self, items: Sequence[Intake]) -> None:
        """Committed: the positions moved past ``items`` (topics not read yet stay unread)."""
        for item in items:
            c = item.consumed
            known = self._known.get(c.topic)
            if known is not None:
                known[c.partition] = max(known.get(c.partition, 0), c.offset + 1)

    def _context(self, now: datetime) -> CommandContext:
        return CommandContext(now=now, new_id=self.new_id, correlation_id=self.new_id())
