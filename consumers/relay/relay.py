"""The relay loop: notification log -> Kafka, one transaction per batch.

Each batch's records and the relay's new position are produced in one Kafka
transaction, so ``read_committed`` consumers see every event exactly once, in store
order per key; after a crash, the next relay resumes from the committed position.
Records are forwarded as stored (Avro bodies): only the Confluent framing is added.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from confluent_kafka import KafkaException, Producer
from eventsourcing.persistence import Notification
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from consumers.relay.checkpoint_writer import CheckpointWriter
from consumers.relay.lock import RelayLock
from consumers.relay.outgoing import FRAME, Outgoing, OutgoingRecords
from consumers.relay.position import Position, PositionStore
from consumers.relay.position_check import PositionRefused, check_position
from consumers.relay.wakeup import StoreWakeup
from consumers.runtime.retry import RetryPolicy, Stopped
from infra.chain_tails import chain_tails
from infra.kafka_config import KafkaAccess, client_config
from infra.ledger.ledger import Ledger
from infra.ledger.seal import TamperedNotification
from infra.outages import DATABASE_OUTAGES
from infra.provenance import Owner, RecordSigner
from infra.serde.deadletter import count_delivered
from infra.serde.topic_serde import TopicSerde
from infra.telemetry.metrics import RELAY_LAG
from infra.telemetry.tracing import TRACEPARENT, as_headers, from_headers, tracer
from infra.topics import RELAYED

log = logging.getLogger("agentledger.relay")
HELD_WARNING_S = 60.0


@dataclass(frozen=True)
class RelayConfig:
    """Where and how the relay writes."""

    kafka: KafkaAccess
    topic_prefix: str
    partitions: int
    transactional_id: str
    batch_size: int = 5000
    idle_poll_s: float = 0.02
    """How long an idle relay sleeps between reads when it cannot listen for commits."""
    idle_wait_s: float = 0.5
    """The longest an idle relay waits for a commit notification before reading anyway."""
    outage_backoff_s: float = 1.0
    """How long the relay waits before reading again when the ledger's database is down."""
    max_record_bytes: int = 1_048_576
    """Largest record relayed (every consumer refuses larger ones); larger: a dead letter."""


class Relay:
    """Follows the ledger's notification log and produces each event to its topic."""

    def __init__(  # noqa: PLR0913  # the relay joins the store, the registry and Kafka
        self, ledger: Ledger, config: RelayConfig, schema_ids: Callable[[str], int],
        positions: PositionStore, lock: RelayLock, *, letters: TopicSerde, signer: RecordSigner,
        checkpoints: CheckpointWriter, clock: Callable[[], datetime],
        wakeup: StoreWakeup | None = None,
    ) -> None:  # fmt: skip
        """``schema_ids`` maps a stored record's schema fingerprint to its registry id.

        Each record is signed by ``signer`` over its bytes and chain link, so readers can
        tell the relay's records from any other producer's.
        ``checkpoints`` signs a checkpoint of the position now and then, in a batch's
        transaction (or, when idle, one of its own).

        A stored record over ``config.max_record_bytes`` goes out as a dead letter
        (``letters``) in the batch's transaction: the broker would refuse the batch
        holding it again and again, and every consumer would refuse the record.
        With ``wakeup``, an idle relay waits for the store's commit notifications
        instead of polling every ``idle_poll_s``.
        """
        self._ledger, self._config, self._schema_ids = ledger, config, schema_ids
        self._positions, self._lock, self._wakeup = positions, lock, wakeup
        self._policy = RetryPolicy(
            backoff_s=config.outage_backoff_s, max_backoff_s=max(5.0, config.outage_backoff_s),
            waited_out=DATABASE_OUTAGES,
            never_retried=(Exception,),
        )  # fmt: skip
        self.standing_by = lock.standing_by
        self._letters, self._clock, self._signer = letters, clock, signer
        self._checkpoints = checkpoints
        self._warned_at = -HELD_WARNING_S
        self.position = Position()
        self.active = threading.Event()
        self._outgoing = OutgoingRecords(ledger, config, schema_ids, letters, clock)

    def run(self, stop: threading.Event) -> None:
        """Wait as a standby for the lock, then relay until ``stop`` is set."""
        log.info("relay waiting for the ledger's lock (standby)")
        if not self._lock.acquire(stop):
            return
        try:
            producer = Producer(client_config(self._config.kafka, {
                "transactional.id": self._config.transactional_id,
                "linger.ms": 5, "batch.size": 1_048_576, "compression.type": "lz4",
                "message.max.bytes": 16 * 1024 * 1024, "transaction.timeout.ms": 60_000,
            }))  # fmt: skip
            producer.init_transactions(60)  # fences a previous relay, aborts its open transaction
            self.position = self._checked(self._positions.load())
            if self._wakeup is not None:
                self._wakeup.listen()  # before the first read: no commit after it goes unnoticed
            self.active.set()
            log.info("relay active from notification %d", self.position.notification_id)
            while not stop.is_set():
                try:  # an outage comes before the transaction: nothing to undo
                    relayed = self._policy.run(lambda: self._relay_once(producer), stop)
                except Stopped:
                    break
                if not relayed:
                    self._checkpoint_idle(producer)
                    self._idle(stop)
        finally:
            self.active.clear()
            if self._wakeup is not None:
                self._wakeup.close()
            self._lock.release()

    def _checked(self, position: Position) -> Position:
        """``position`` if the store and the topics agree with it, else PositionRefused."""
        stored = self._ledger.recorder.max_notification_id() or 0
        if position.notification_id > stored:
            message = (
                f"the relay's committed position ({position.notification_id}) is past the"
                f" store's last notification ({stored}): was the store reset? Refusing to skip"
                " events; reset the relay position topic only if the store was rebuilt (then"
                " restart every reader: numbers start over, and a running reader takes them for"
                " replays)."
            )
            raise PositionRefused(message)
        topics = {self._config.topic_prefix + name for name in RELAYED}
        topics |= {slot.rpartition(":")[0] for slot in position.chains}
        owners = {topic: Owner(topic, "relay", self._signer.public_key, chained=True)
                  for topic in topics}  # fmt: skip
        tails = chain_tails(self._config.kafka, owners, self._config.partitions)
        check_position(position, tails, self._chained_between)
        return position

    def _chained_between(self, after: int, upto: int) -> list[int]:
        """Stored notifications in ``(after, upto]`` the relay puts on a chain (in order)."""
        chained, start = [], after
        while start < upto:
            batch = self._ledger.recorder.select_notifications(
                start=start, limit=self._config.batch_size, stop=upto, inclusive_of_start=False
            )
            if not batch:
                break
            chained += [n.id for n in batch if self._chains(n)]
            start = batch[-1].id
        return chained

    def _chains(self, notification: Notification) -> bool:
        """Whether relaying ``notification`` puts a record on a chain (not a dead letter)."""
        transcoder = self._ledger.transcoder
        if isinstance(notification, TamperedNotification):
            return False  # dead-lettered
        if not transcoder.carries_record(notification.state):
            return False
        _, _, body = transcoder.split(notification.state)
        return len(body) + FRAME <= self._config.max_record_bytes

    def _relay_once(self, producer: Producer) -> int:
        """One step; when it found nothing, a look for rows the sequence never handed out."""
        relayed = self.step(producer)
        if not relayed:
            self._held_beyond_head()
        return relayed

    def _held_beyond_head(self) -> None:
        """Say so, once a minute, while rows numbered beyond the id sequence wait in the store."""
        now = time.monotonic()
        if now - self._warned_at < HELD_WARNING_S:
            return
        self._warned_at = now
        head, last = self._ledger.notifications_head(), self._ledger.recorder.max_notification_id()
        if head is not None and last is not None and last > head:
            log.error(
                "the store holds notifications up to %d, beyond the %d its id sequence handed"
                " out: put there by hand, never relayed (`agentledger audit verify --store`)",
                last, head,
            )  # fmt: skip

    def _idle(self, stop: threading.Event) -> None:
        if self._wakeup is None:
            stop.wait(self._config.idle_poll_s)
        else:
            self._wakeup.wait(stop, self._config.idle_wait_s, self._config.idle_poll_s)

    def step(self, producer: Producer) -> int:
        """Relay the next batch in one transaction; how many notifications it covered."""
        head = self._ledger.notifications_head()  # first: what is committed now is below it
        notifications = self._ledger.recorder.select_notifications(
            start=self.position.notification_id, limit=self._config.batch_size, stop=head,
            inclusive_of_start=False,
        )  # fmt: skip
        if not notifications:
            RELAY_LAG.labels("relay").set(0)
            return 0
        advanced = self.position.followed_by(notifications)
        checkpoint = None
        self._outgoing.letters.clear()
        producer.begin_transaction()
        try:
            outgoing = [
                record for notification in notifications
                if (record := self._outgoing.record(producer, notification, advanced.chains))
            ]  # fmt: skip
            for record in outgoing:
                signature = self._signer.headers(*record.signable)
                producer.produce(
                    record.topic, value=record.payload, key=record.key,
                    partition=record.partition,
                    headers=[*record.chain, *signature, *_relayed(record)],
                )  # fmt: skip
            self._positions.write(producer, advanced)
            checkpoint = self._checkpoints.produce(producer, advanced)
            producer.commit_transaction(60)
        except KafkaException as exc:
            _abort(producer, exc, "relay batch")
            return 0
        self.position = advanced
        count_delivered(self._outgoing.letters)
        RELAY_LAG.labels("relay").set(max((head or 0) - advanced.notification_id, 0))
        if checkpoint is not None:
            self._checkpoints.committed(checkpoint)
        return len(notifications)

    def _checkpoint_idle(self, producer: Producer) -> None:
        """When idle, a checkpoint of the last batches if one is due (a transaction of its own)."""
        if not self._checkpoints.behind(self.position):
            return
        producer.begin_transaction()
        try:
            checkpoint = self._checkpoints.produce(producer, self.position)
            if checkpoint is None:
                producer.abort_transaction(60)
                return
            producer.commit_transaction(60)
        except KafkaException as exc:
            _abort(producer, exc, "checkpoint")
            return
        self._checkpoints.committed(checkpoint)


def _relayed(record: Outgoing) -> list[tuple[str, str | bytes | None]]:
    """The trace context of a traced event's record: a relay span under the stored one."""
    if record.trace is None:
        return []
    parent = from_headers([(TRACEPARENT, record.trace)])
    span = tracer.start_span(f"relay {record.topic}", context=parent, kind=SpanKind.PRODUCER)
    span.end()
    return as_headers(trace.set_span_in_context(span))


def _abort(producer: Producer, exc: KafkaException, what: str) -> None:
    """Abort the transaction ``exc`` broke, if it asks for that; raise any other error."""
    error = exc.args[0]
    if error.fatal() or not error.txn_requires_abort():
        raise exc
    producer.abort_transaction(60)
    log.warning("%s aborted, will try again: %s", what, error)
