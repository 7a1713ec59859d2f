"""Poll each connector's change feed; produce one ``ExternalStateObserved`` per change.

Each round reads up to ``batch`` changes per system and produces their observations
and the new positions in one Kafka transaction. The event id of an observation is
derived from (system, sequence), so the same change always has the same id. A change
that cannot be published as an observation (too large, a value the contract refuses)
becomes a dead letter in the same transaction, with the change as JSON and the reason,
and the feed goes on past it. A change numbered beyond the feed's own counter is held
and flagged the same way, once, and the feed does not go past it
(:mod:`consumers.observer.gaps`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from confluent_kafka import Producer

from consumers.observer.chain import ObservationChain, numbers_floor
from consumers.observer.gaps import SequenceJump, jump_reason, justified
from consumers.observer.positions import ObserverPositions
from consumers.observer.records import change_letter, feed_read, observation_of
from consumers.observer.spans import observed
from consumers.runtime.retry import RetryPolicy, Stopped
from infra.chain_tails import chain_tails
from infra.connectors.base import Change, Connector, ConnectorError
from infra.kafka_config import KafkaAccess, client_config
from infra.partitioner import partition_for
from infra.provenance import Owner, RecordSigner
from infra.serde.deadletter import DeadLetter, count_delivered
from infra.serde.errors import BadRecord
from infra.serde.topic_serde import TopicSerde
from infra.topics import DEAD_LETTER_PRODUCER

log = logging.getLogger("agentledger.observer")


@dataclass(frozen=True)
class ObserverConfig:
    """Where the observer writes and how it polls."""

    kafka: KafkaAccess
    transactional_id: str
    partitions: int
    poll_s: float = 0.5
    batch: int = 500
    heartbeat_s: float = 2.0
    """How often, at least, each feed's read position goes to every partition."""


@dataclass(frozen=True)
class FeedRead:
    """One feed as read in a round: when, the changes to observe, one held (to flag)."""

    read_at: datetime
    taken: list[Change]
    held: Change | None
    head: int
    """The feed's own counter when it was read."""


class Observer:
    """Follows the change feeds of ``connectors`` (by system name)."""

    def __init__(  # noqa: PLR0913  # an observer joins its feeds, topics, positions and clock
        self,
        connectors: Mapping[str, Connector],
        serde: TopicSerde,
        positions: ObserverPositions,
        clock: Callable[[], datetime],
        config: ObserverConfig,
        *,
        letters: TopicSerde,
        signer: RecordSigner,
    ) -> None:
        """Produce observations with ``serde`` to its topic, dead letters with ``letters``.

        Each observation is signed by ``signer``: readers act on the observer's only.
        """
        self._connectors, self._serde, self._positions = connectors, serde, positions
        self._clock, self.config, self._letters = clock, config, letters
        self._signer = signer
        self.ready = threading.Event()
        self.produced = self.dead_letters = 0
        self._round_letters: list[DeadLetter] = []  # counted once the round commits
        self._producer: Producer | None = None
        self._at: dict[str, int] = {}
        self._beat: dict[str, datetime] = {}
        self._chain = ObservationChain()
        self._policy = RetryPolicy(waited_out=(Exception,), max_backoff_s=2.0, on_wait=_restarting)
        self._flagged: set[tuple[str, int]] = set()

    def start(self) -> None:
        """Take over the transactional id (fencing any older instance) and load positions."""
        self._producer = Producer(client_config(self.config.kafka, {
            "enable.idempotence": True,
            "transactional.id": self.config.transactional_id, "linger.ms": 5,
            **DEAD_LETTER_PRODUCER,  # observations are held to their own limit by the serde
        }))  # fmt: skip
        self._producer.init_transactions(60)
        self._at, self._chain = self._positions.load()
        self._follow_topic()
        log.info("observer resuming at %s", self._at or "the beginning of every feed")
        self.ready.set()

    def _follow_topic(self) -> None:
        """Take each partition's chain up where the observer's own signed records end.

        The chain saved with the positions is normally just that; if it is not (a position
        read early, or written by someone else), the topic's signed records win, so the
        observer never forks its own chains.
        """
        topic = self._serde.topic
        owner = Owner(topic, "observer", self._signer.public_key, chained=True)
        tails = chain_tails(self.config.kafka, {topic: owner}, self.config.partitions)
        ends = {int(slot.rpartition(":")[2]): tail for slot, tail in tails.items()}
        if {p: t.chain for p, t in ends.items()} != self._chain.heads:
            log.warning("observer chains taken up from %s, not from its saved positions", topic)
        floor = numbers_floor(self._clock())
        self._chain = ObservationChain(
            {partition: tail.chain for partition, tail in ends.items()},
            max([floor, self._chain.number, *(tail.notification_id for tail in ends.values())]),
        )

    def round(self) -> int:
        """One poll of every feed; the number of observations committed."""
        if self._producer is None:
            raise RuntimeError("start() the observer first")
        read = self._read()
        if not read:
            return 0
        producer = self._producer
        self._round_letters = []
        producer.begin_transaction()
        count = 0
        for source, feed in read.items():
            if feed.held is not None:
                reason = jump_reason(source, feed.held, feed.head)
                self._unpublishable(producer, source, feed.held, SequenceJump(reason))
            count += self._observe(producer, source, feed.read_at, feed.taken)
            sequence = feed.taken[-1].sequence if feed.taken else self._at.get(source, 0)
            self._heartbeat(producer, source, sequence, feed.read_at)
            if feed.taken:
                self._positions.write(producer, source, sequence)
        self._positions.write_chain(producer, self._chain)
        producer.commit_transaction(60)
        count_delivered(self._round_letters)
        for source, feed in read.items():
            if feed.held is not None:
                self._flagged.add((source, feed.held.sequence))
            self._beat[source] = feed.read_at
            if feed.taken:
                self._at[source] = feed.taken[-1].sequence
        self.produced += count
        return count

    def _observe(
        self, producer: Producer, source: str, read_at: datetime, changes: list[Change]
    ) -> int:
        """Produce the observations of ``changes`` (or their dead letters); how many."""
        count = 0
        for change in changes:
            key = change.resource.key.encode()
            try:
                value = self._serde.serialize(observation_of(source, change, read_at))
            except (BadRecord, ValueError) as exc:  # pydantic's ValidationError included
                self._unpublishable(producer, source, change, exc)
                continue
            place = partition_for(key, self.config.partitions)
            self._produce(producer, key, value, place, observed(source, change))
            count += 1
        return count

    def _read(self) -> dict[str, FeedRead]:
        """Each feed with new changes, a held change to flag or a heartbeat due."""
        read: dict[str, FeedRead] = {}
        for source, connector in self._connectors.items():
            read_at = self._clock()
            try:
                changes = connector.changes(self._at.get(source, 0), self.config.batch)
                head = connector.feed_head() if changes else 0  # after the changes: above them
            except ConnectorError as exc:
                log.warning("cannot read the %s change feed: %s", source, exc)
                continue
            found = justified(changes, head)
            held = found.held
            if held is not None and (source, held.sequence) in self._flagged:
                held = None  # flagged once is enough
            last = self._beat.get(source)
            due = last is None or (read_at - last).total_seconds() >= self.config.heartbeat_s
            if found.taken or due or held is not None:
                read[source] = FeedRead(read_at, found.taken, held, head)
        return read

    def _unpublishable(
        self, producer: Producer, source: str, change: Change, error: Exception
    ) -> None:
        """A dead letter for ``change``, in the round's transaction (the feed goes on)."""
        letter = change_letter(source, change, error, self._clock)
        log.error("change %d of the %s feed is dead-lettered: %s", change.sequence, source,
                  letter.error)  # fmt: skip
        producer.produce(self._letters.topic, self._letters.serialize(letter), letter.key)
        self._round_letters.append(letter)
        self.dead_letters += 1

    def _heartbeat(self, producer: Producer, source: str, sequence: int, at: datetime) -> None:
        """A ``ChangeFeedChecked`` on every partition, after the observations it vouches for."""
        key = f"{source}/observer/feed".encode()
        for partition in range(self.config.partitions):
            value = self._serde.serialize(feed_read(source, sequence, at, partition))
            self._produce(producer, key, value, partition)

    def _produce(
        self, producer: Producer, key: bytes, value: bytes, partition: int,
        traced: list[tuple[str, str | bytes | None]] | None = None,
    ) -> None:  # fmt: skip
        """One observation, chained in its partition and signed over its place, bytes and link."""
        chain, linked = self._chain.extend(partition, value)
        headers: list[tuple[str, str | bytes | None]] = [
            *linked,
            *self._signer.headers(self._serde.topic, partition, key, value, chain),
            *(traced or []),
        ]
        producer.produce(self._serde.topic, value, key, partition=partition, headers=headers)

    def run(self, stop: threading.Event) -> None:
        """Observe until ``stop`` is set; broker trouble restarts from committed positions."""
        while not stop.is_set():
            try:  # broker, registry or feed trouble: start over, waited out as long as it lasts
                self._policy.run(self._restart, stop)
            except Stopped:
                return
            try:
                self._follow(stop)
            except Exception as exc:  # noqa: BLE001  # whatever it was, start over from committed positions
                _restarting(exc)
                stop.wait(1.0)

    def _restart(self) -> None:
        """Start from the committed positions and do one round (a fault shows here first)."""
        self.start()
        self.round()

    def _follow(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.round() < self.config.batch:
                stop.wait(self.config.poll_s)


def _restarting(exc: BaseException) -> None:
    log.warning("observer restarting from its committed positions: %s", exc, exc_info=exc)
