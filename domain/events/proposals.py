"""What agents propose, and proposals refused before any decision."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from domain.events.base import DomainEvent
from domain.values import Money, Name, Record, ResourceRef, Values


class Reason(Record):
    """A machine-readable code and a human-readable message."""

    code: Name
    message: str = Field(max_length=2000)


class KafkaPosition(Record):
    """Where a record was read from."""

    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


class ActionProposed(DomainEvent):
    """An agent proposes an action on one resource."""

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


class ProposalRejected(DomainEvent):
    """A proposal refused before a decision (malformed, unknown agent, scope, duplicate...)."""

    action_id: UUID | None = None
    agent_id: str | None = None
    idempotency_key: str | None = None
    resource: ResourceRef | None = None
    reason: Reason
    existing_action_id: UUID | None = None
    source: KafkaPosition | None = None
