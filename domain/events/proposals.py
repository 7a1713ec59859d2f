"""What agents propose, and proposals refused before any decision."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import ConfigDict, Field

from domain.events.base import DomainEvent
from domain.values import BYTES_AS_BASE64, Money, Name, Record, ResourceRef, Values


class Reason(Record):
    """A machine-readable code and a human-readable message."""

    code: Name
    message: str = Field(max_length=2000)


class KafkaPosition(Record):
    """Where a record was read from."""

    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


class Signature(Record):
    """An Ed25519 signature over a proposal's signing input, and the key that made it."""

    model_config = ConfigDict(frozen=True, extra="forbid", **BYTES_AS_BASE64)

    key_id: str = Field(min_length=1, max_length=200)
    value: bytes = Field(min_length=64, max_length=64)


class ActionProposed(DomainEvent):
    """An agent proposes an action on one resource."""

    added_fields: ClassVar[frozenset[str]] = frozenset({"signature", "attestation"})

    agent_id: Name
    idempotency_key: str = Field(min_length=1, max_length=200)
    resource: ResourceRef
    action_type: Name
    parameters: Values
    preconditions: Values
    confidence: float = Field(ge=0.0, le=1.0)
    estimated_cost: Money | None = None
    plan_id: str | None = None
    rationale: str | None = Field(default=None, max_length=4000)
    signature: Signature | None = None
    """The agent's own signature, with a key registered on the agent."""
    attestation: Signature | None = None
    """A service's: the API's (it authenticated the agent by token) or the executor's."""


class ProposalRejected(DomainEvent):
    """A proposal refused before a decision (unauthenticated, malformed, scope, duplicate...)."""

    added_fields: ClassVar[frozenset[str]] = frozenset({"key_id"})

    action_id: UUID | None = None
    agent_id: str | None = None
    idempotency_key: str | None = None
    resource: ResourceRef | None = None
    reason: Reason
    existing_action_id: UUID | None = None
    source: KafkaPosition | None = None
    key_id: str | None = Field(default=None, max_length=200)
    """An unauthenticated proposal's key id: it is recorded against the key, not the agent."""
