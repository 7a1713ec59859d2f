"""Where the relay is: the last relayed notification and each partition's chain head.

Written to a compacted one-partition topic inside the same Kafka transaction as the
records it covers, so after a crash the committed position is exactly the committed
output: no gap, no duplicate.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition
from eventsourcing.persistence import Notification

from infra.checkpoints import store_link
from infra.kafka_config import KafkaAccess, client_config
from infra.outages import kafka_settling
from infra.provenance import Owner, RecordSigner, message_headers
from infra.serde.errors import Unproven
from infra.watermarks import watermarks

log = logging.getLogger("agentledger.relay")

LOOKBACK = 1000  # records to scan back for the latest position (transaction markers use offsets)


@dataclass
class Position:
    """The last relayed notification id, each ``topic:partition``'s chain head, the store digest.

    The digest (see :mod:`infra.checkpoints`) covers the ``notifications`` stored after
    notification ``since``: 0, unless the position was first written without it.
    """

    notification_id: int = 0
    chains: dict[str, str] = field(default_factory=dict)
    notifications: int = 0
    store_digest: str = ""
    since: int = 0

    def encode(self) -> bytes:
        """JSON bytes for the position topic."""
        return json.dumps({
            "notification_id": self.notification_id, "chains": self.chains,
            "notifications": self.notifications, "store_digest": self.store_digest,
            "since": self.since,
        }).encode()  # fmt: skip

    @classmethod
    def decode(cls, payload: bytes) -> Position:
        """The position in ``payload`` (one written before the digest starts it there)."""
        data = json.loads(payload)
        at = int(data["notification_id"])
        return cls(
            at, dict(data["chains"]), int(data.get("notifications", 0)),
            str(data.get("store_digest", "")), int(data.get("since", at)),
        )  # fmt: skip

    def followed_by(self, notifications: Sequence[Notification]) -> Position:
        """The position once ``notifications`` (the next in the store, in order) are relayed."""
        digest = self.store_digest
        for notification in notifications:
            digest = store_link(digest, notification)
        return Position(
            notifications[-1].id, dict(self.chains), self.notifications + len(notifications),
            digest, self.since,
        )  # fmt: skip


class PositionStore:
    """Reads and writes the relay's position on its topic."""

    def __init__(
        self, kafka: KafkaAccess, owner: Owner, ledger: str, *, signer: RecordSigner | None = None
    ) -> None:
        """Positions of ledger ``ledger`` on ``owner``'s topic, signed by ``signer`` (to write).

        Only positions the owner (the relay) signed are read: one written with its stolen
        Kafka credential is passed over.
        """
        self._kafka, self._owner, self._key = kafka, owner, ledger.encode()
        self._topic, self._signer = owner.topic, signer

    def load(self, attempts: int = 30) -> Position:
        """The last committed position (the empty position if none).

        Retriable broker errors (e.g. a leader being elected) are retried once a second.
        """
        for attempt in range(attempts):
            try:
                return self._load()
            except KafkaException as exc:
                if not kafka_settling(exc.args[0]) or attempt == attempts - 1:
                    raise
                time.sleep(1.0)
        raise AssertionError("unreachable")  # pragma: no cover

    def _load(self) -> Position:
        consumer = Consumer(client_config(self._kafka, {
            "group.id": self._kafka.scratch_group("position"),
            "isolation.level": "read_committed", "enable.auto.commit": False,
            "enable.partition.eof": True,
        }))  # fmt: skip
        try:
            low, high = watermarks(consumer, TopicPartition(self._topic, 0))
            consumer.assign([TopicPartition(self._topic, 0, max(low, high - LOOKBACK))])
            latest = Position()
            while True:
                message = consumer.poll(10)
                if message is None:
                    raise TimeoutError(f"no answer reading {self._topic}")
                error = message.error()
                if error is not None:
                    if error.code() == error._PARTITION_EOF:  # noqa: SLF001  # public constant
                        return latest
                    raise RuntimeError(f"reading {self._topic}: {error}")
                if message.key() == self._key and message.value():
                    latest = self._genuine(message) or latest
        finally:
            consumer.close()

    def _genuine(self, message: Message) -> Position | None:
        """The position in ``message``, if the relay signed it."""
        payload = message.value() or b""
        try:
            self._owner.check(0, message.key(), payload, message_headers(message))
            return Position.decode(payload)
        except (Unproven, ValueError, KeyError, TypeError) as exc:
            log.warning("passing over a relay position at offset %s: %s", message.offset(), exc)
            return None

    def write(self, producer: Producer, position: Position) -> None:
        """Produce ``position``, signed (call inside the transaction that relays its records)."""
        if self._signer is None:
            raise RuntimeError("this position store reads only: it has no signing key")
        value = position.encode()
        headers = self._signer.headers(self._topic, 0, self._key, value)
        producer.produce(self._topic, key=self._key, value=value, partition=0, headers=[*headers])
