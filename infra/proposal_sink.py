"""Produce proposals to ``proposals.v1``: Avro through the registry, keyed by the resource."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException, Producer

from domain.events import ActionProposed
from domain.signing import Sealer
from infra.kafka_config import KafkaAccess, client_config
from infra.partitioner import partition_for
from infra.serde.errors import PayloadTooLarge
from infra.serde.topic_serde import TopicSerde
from infra.telemetry.tracing import as_headers


class ProposalNotDelivered(RuntimeError):
    """The broker did not acknowledge a proposal in time."""


class ProposalTooLarge(ValueError):
    """The proposal's record is over the record limit (or the producer's message limit)."""


class ProposalSink:
    """An idempotent producer of proposals (the SDK, the HTTP API, compensations)."""

    def __init__(
        self, kafka: KafkaAccess, serde: TopicSerde, partitions: int, *, seal: Sealer
    ) -> None:
        """Produce to ``serde``'s topic, which has ``partitions`` partitions.

        Each proposal goes out as ``seal`` returns it: signed by its agent, or attested
        by the service sending it (the decider refuses a proposal with neither).
        """
        self._seal = seal
        self._serde = serde
        self._partitions = partitions
        self._producer = Producer(
            client_config(kafka, {"enable.idempotence": True, "linger.ms": 2})
        )

    def send(self, proposal: ActionProposed, timeout_s: float = 30.0) -> ActionProposed:
        """Seal, produce and wait for the broker's acknowledgement; the proposal as sent."""
        proposal = self._seal(proposal)
        key = proposal.resource.key.encode()
        partition = partition_for(key, self._partitions)
        errors: list[KafkaError] = []
        try:
            self._producer.produce(
                self._serde.topic, self._serde.serialize(proposal), key, partition=partition,
                on_delivery=lambda error, _msg: errors.append(error) if error else None,
                headers=as_headers(),  # the caller's trace goes on to the decider
            )  # fmt: skip
        except PayloadTooLarge as exc:
            raise ProposalTooLarge(f"the proposal's record is too large: {exc}") from exc
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.MSG_SIZE_TOO_LARGE:
                raise
            raise ProposalTooLarge(f"the proposal's record is too large: {exc}") from exc
        if self._producer.flush(timeout_s) or errors:
            raise ProposalNotDelivered(f"proposal not delivered: {errors or 'timed out'}")
        return proposal

    def close(self) -> None:
        """Deliver anything pending."""
        self._producer.flush(30)
