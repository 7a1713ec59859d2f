"""How far the observer read each system's change feed, kept on a compacted topic.

Positions are produced in the same Kafka transaction as the observations they cover,
so a restart resumes exactly after the last committed observation: none lost, none
repeated for ``read_committed`` readers.
"""

from __future__ import annotations

import json
import logging

from confluent_kafka import Consumer, Message, Producer, TopicPartition

from consumers.observer.chain import ObservationChain
from infra.kafka_config import KafkaAccess, client_config
from infra.provenance import Owner, RecordSigner, message_headers
from infra.serde.errors import Unproven
from infra.watermarks import watermarks

log = logging.getLogger("agentledger.observer")


class ObserverPositions:
    """The last change sequence observed per source system."""

    def __init__(
        self, kafka: KafkaAccess, owner: Owner, observer: str, signer: RecordSigner
    ) -> None:
        """Positions of the observer named ``observer`` on ``owner``'s topic (one partition).

        Written signed by ``signer``; only those ``owner`` signed are read, so a position
        written with the observer's stolen Kafka credential cannot make it skip changes.
        """
        self._kafka, self._owner, self._observer = kafka, owner, observer
        self._topic, self._signer = owner.topic, signer
        self._chain_key = f"{observer}/chain".encode()  # no source has this name: ":" is absent

    def load(self, timeout_s: float = 30.0) -> tuple[dict[str, int], ObservationChain]:
        """The committed sequence per source (absent: from the beginning), and the chain."""
        consumer = Consumer(client_config(self._kafka, {
            "group.id": self._kafka.scratch_group("position"),
            "isolation.level": "read_committed", "enable.auto.commit": False,
            "enable.partition.eof": True,
        }))  # fmt: skip
        prefix = f"{self._observer}:".encode()
        positions: dict[str, int] = {}
        chain = ObservationChain()
        try:
            low, _ = watermarks(consumer, TopicPartition(self._topic, 0))
            consumer.assign([TopicPartition(self._topic, 0, low)])
            while True:
                message = consumer.poll(timeout_s)
                if message is None:
                    raise TimeoutError(f"no answer reading {self._topic}")
                error = message.error()
                if error is not None:
                    if error.code() == error._PARTITION_EOF:  # noqa: SLF001  # public constant
                        return positions, chain
                    raise RuntimeError(f"reading {self._topic}: {error}")
                key = message.key() or b""
                if key == self._chain_key and message.value():
                    chain = self._chain(message) or chain
                elif key.startswith(prefix) and message.value():
                    self._take(
                        message, key.removeprefix(prefix).decode(errors="replace"), positions
                    )
        finally:
            consumer.close()

    def _take(self, message: Message, source: str, positions: dict[str, int]) -> None:
        payload = message.value() or b""
        try:
            self._owner.check(0, message.key(), payload, message_headers(message))
            positions[source] = int(json.loads(payload)["sequence"])
        except (Unproven, ValueError, KeyError, TypeError) as exc:
            log.warning("passing over an observer position at offset %s: %s", message.offset(), exc)

    def _chain(self, message: Message) -> ObservationChain | None:
        payload = message.value() or b""
        try:
            self._owner.check(0, message.key(), payload, message_headers(message))
            return ObservationChain.decode(payload)
        except (Unproven, ValueError, KeyError, TypeError) as exc:
            log.warning("passing over an observer chain at offset %s: %s", message.offset(), exc)
            return None

    def write_chain(self, producer: Producer, chain: ObservationChain) -> None:
        """Produce the chain's heads, signed (inside the observations' transaction)."""
        value = chain.encode()
        headers = self._signer.headers(self._topic, 0, self._chain_key, value)
        producer.produce(
            self._topic, key=self._chain_key, value=value, partition=0, headers=[*headers]
        )

    def write(self, producer: Producer, source: str, sequence: int) -> None:
        """Produce the position of ``source``, signed (inside the observations' transaction)."""
        key = f"{self._observer}:{source}".encode()
        value = json.dumps({"sequence": sequence}).encode()
        headers = self._signer.headers(self._topic, 0, key, value)
        producer.produce(self._topic, key=key, value=value, partition=0, headers=[*headers])
