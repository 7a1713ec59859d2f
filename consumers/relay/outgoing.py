"""What the relay puts on Kafka for each stored notification: the record, framed and chained.

A stored record over ``max_record_bytes`` goes out as a dead letter instead: the broker
would refuse the batch holding it again and again, and every consumer would refuse it.
So does an event that fails the ledger's seal (written to the database, not by a writer
holding the key): it is never signed, and no consumer sees it as a record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import NAMESPACE_URL, uuid5

from confluent_kafka import Producer
from eventsourcing.persistence import Notification

from domain.events.proposals import KafkaPosition
from infra.chain import HASH, NOTIFICATION, PREVIOUS, link
from infra.ledger.ledger import Ledger
from infra.ledger.seal import TamperedNotification
from infra.partitioner import partition_for
from infra.provenance import Signable
from infra.routing import route
from infra.serde.deadletter import DeadLetter, dead_letter_for
from infra.serde.errors import BadRecord, PayloadTooLarge, Tampered
from infra.serde.topic_serde import TopicSerde

if TYPE_CHECKING:
    from consumers.relay.relay import RelayConfig

log = logging.getLogger("agentledger.relay")

FRAME = 5
"""Confluent framing before each Avro body: magic byte 0 and the 4-byte schema id."""
LETTER_HEADROOM = 64 * 1024
"""Room a dead letter needs beside the payload it carries (ids, origin, reason)."""


class OutgoingRecords:
    """Builds each notification's record (its framing cached per schema)."""

    def __init__(  # the store, where to write, the registry, the letters
        self, ledger: Ledger, config: RelayConfig, schema_ids: Callable[[str], int],
        letters: TopicSerde, clock: Callable[[], datetime],
    ) -> None:  # fmt: skip
        """Records of ``ledger``'s notifications as ``config`` says; too large: ``letters``."""
        self._ledger, self._config, self._schema_ids = ledger, config, schema_ids
        self._letters, self._clock = letters, clock
        self._frames: dict[str, bytes] = {}
        self.letters: list[DeadLetter] = []
        """The dead letters of the batch in progress (counted once it commits)."""

    def record(
        self, producer: Producer, notification: Notification, chains: dict[str, str]
    ) -> Outgoing | None:
        """The record ``notification`` goes out as, chained (too large: dead-lettered here).

        ``chains`` holds each ``topic:partition``'s head; the record's link becomes it.
        """
        if isinstance(notification, TamperedNotification):
            self._refuse_tampered(producer, notification)
            return None
        transcoder = self._ledger.transcoder
        if not transcoder.carries_record(notification.state):
            return None  # no contract record: nothing to publish
        header, print_, body = transcoder.split(notification.state)
        if "_route" in header:
            topic_name, key = header["_route"]
        else:  # stored before routes were recorded: decode to route it
            topic_name, key = route(transcoder.decode(notification.state)["record"])
        topic = self._config.topic_prefix + topic_name
        frame = self._frames.get(print_)
        if frame is None:  # Confluent framing: magic byte 0 + the registry's schema id
            frame = self._frames[print_] = b"\x00" + self._schema_ids(print_).to_bytes(4, "big")
        payload = frame + body
        key_bytes = key.encode()
        if len(payload) > self._config.max_record_bytes:
            self._too_large(producer, notification.id, topic, key_bytes, payload)
            return None
        partition = partition_for(key_bytes, self._config.partitions)
        slot = f"{topic}:{partition}"
        previous = chains.get(slot)
        chains[slot] = link(previous, notification.id, payload)
        chain: list[tuple[str, str | bytes | None]] = [
            (NOTIFICATION, str(notification.id).encode()),
            (PREVIOUS, (previous or "").encode()),
            (HASH, chains[slot].encode()),
        ]
        signable = (topic, partition, key_bytes, payload, chains[slot])
        trace = header.get("_trace")
        traced = trace if isinstance(trace, str) else None
        return Outgoing(topic, key_bytes, partition, payload, chain, signable, traced)

    def _refuse_tampered(self, producer: Producer, notification: TamperedNotification) -> None:
        store = f"{self._ledger.name.lower()}_events"
        key = str(notification.originator_id).encode()
        error = Tampered(f"notification {notification.id}: {notification.reason}")
        self._dead_letter(producer, notification.id, store, key, notification.state, error)

    def _too_large(
        self, producer: Producer, notification_id: int, topic: str, key: bytes, payload: bytes
    ) -> None:
        error = PayloadTooLarge(f"{len(payload)} bytes > limit {self._config.max_record_bytes}")
        self._dead_letter(producer, notification_id, topic, key, payload, error)

    def _dead_letter(  # noqa: PLR0913, PLR0917  # where it came from, and why it is refused
        self, producer: Producer, notification_id: int, topic: str, key: bytes, payload: bytes,
        error: BadRecord,
    ) -> None:  # fmt: skip
        """Relay a record no consumer may take as a dead letter (its chain skips it)."""
        log.error("notification %d for %s is dead-lettered: %s", notification_id, topic, error)
        if len(payload) > self._letters.max_bytes - LETTER_HEADROOM:  # too large for a letter
            error = type(error)(f"{error.reason}; the payload is left out of this letter")
            payload = b""
        where = f"relay:{self._ledger.name}:{notification_id}"
        letter = dead_letter_for(
            error, origin=KafkaPosition(topic=topic, partition=0, offset=notification_id),
            key=key, payload=payload or None, headers={}, consumer=f"relay:{self._ledger.name}",
            clock=self._clock, new_id=lambda: uuid5(NAMESPACE_URL, where),
        )  # fmt: skip
        producer.produce(self._letters.topic, self._letters.serialize(letter), key)
        self.letters.append(letter)


@dataclass(frozen=True)
class Outgoing:
    """One record of a batch, chained and ready to be signed."""

    topic: str
    key: bytes
    partition: int
    payload: bytes
    chain: list[tuple[str, str | bytes | None]]
    signable: Signable
    trace: str | None = None
    """The ``traceparent`` of the work that stored the event, if it was traced."""
