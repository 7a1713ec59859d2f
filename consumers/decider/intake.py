"""What one consumed proposal turned out to be: a proposal, a malformed one, or bad bytes."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from domain.events import ActionProposed
from domain.events.proposals import KafkaPosition
from domain.proposal_limits import proposal_problem, text_problem
from domain.values import ResourceRef
from infra.serde.errors import BadRecord, RecordFailsValidation
from infra.serde.topic_serde import TopicSerde


@dataclass(frozen=True)
class Consumed:
    """One record as read from Kafka."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]

    @property
    def position(self) -> KafkaPosition:
        """Where the record was read."""
        return KafkaPosition(topic=self.topic, partition=self.partition, offset=self.offset)

    @property
    def source(self) -> str:
        """The position as one string (rejection ids derive from it)."""
        return f"{self.topic}:{self.partition}:{self.offset}"


@dataclass(frozen=True)
class Proposal:
    """A well-formed proposal."""

    consumed: Consumed
    record: ActionProposed


@dataclass(frozen=True)
class Malformed:
    """Avro that decodes but breaks a rule of ActionProposed: rejected with the reason."""

    consumed: Consumed
    reason: str
    known: dict[str, Any]
    """The fields that could still be read (agent, idempotency key, resource)."""


@dataclass(frozen=True)
class Undecodable:
    """Bytes that are not a proposal at all: dead-lettered."""

    consumed: Consumed
    error: BadRecord


Intake = Proposal | Malformed | Undecodable


def read(consumed: Consumed, serde: TopicSerde) -> Intake:
    """Classify ``consumed``; never raises for bad input (registry outages do raise)."""
    try:
        record = serde.deserialize(consumed.value)
    except RecordFailsValidation as exc:
        return Malformed(consumed, exc.reason, _known(exc.datum))
    except BadRecord as exc:
        return Undecodable(consumed, exc)
    if not isinstance(record, ActionProposed):  # the topic serde only carries proposals
        return Undecodable(consumed, BadRecord(f"{type(record).__name__} is not a proposal"))
    problem = proposal_problem(record)
    if problem is not None:
        fields = {"agent_id": record.agent_id, "idempotency_key": record.idempotency_key,
                  "resource": record.resource}  # fmt: skip
        return Malformed(consumed, problem, _known(fields))
    return Proposal(consumed, record)


def _known(datum: dict[str, Any]) -> dict[str, Any]:
    known: dict[str, Any] = {}
    agent, key = datum.get("agent_id"), datum.get("idempotency_key")
    if _storable(agent):
        known["agent_id"] = agent
    if _storable(key):
        known["idempotency_key"] = key
    with contextlib.suppress(ValidationError):
        known["resource"] = ResourceRef.model_validate(datum.get("resource"))
    return known


def _storable(text: object) -> bool:
    """Whether ``text`` fits ProposalRejected's string fields (and PostgreSQL's text)."""
    return (
        isinstance(text, str)
        and 0 < len(text) <= 200  # noqa: PLR2004  # ProposalRejected's limit
        and text_problem(text, "") is None
    )
