"""Authorization and execution against the external system, and compensation."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import Field

from domain.events.base import DomainEvent
from domain.values import Money, Name, ResourceRef, Timestamp, Values

Attempt = int


class Authorized(DomainEvent):
    """The action may execute."""

    action_id: UUID
    agent_id: Name
    resource: ResourceRef
    action_type: Name
    parameters: Values
    action_digest: str
    expected_version: str | None = None
    budget_reserved: Money | None = None


class ExecutionStarted(DomainEvent):
    """An executor holds the resource lease and is about to call out."""

    action_id: UUID
    resource: ResourceRef
    attempt: int = Field(ge=1, le=2**31 - 1)
    idempotency_key: str
    executor: str
    expected_version: str | None = None


class MutationApplied(DomainEvent):
    """The external system applied the change."""

    added_fields: ClassVar[frozenset[str]] = frozenset({"cost"})

    action_id: UUID
    resource: ResourceRef
    attempt: int = Field(ge=1, le=2**31 - 1)
    external_version: str
    applied_fields: Values
    cost: Money | None = Field(default=None, ge=0)
    """What the call cost, where the connector reports it."""


class MutationFailed(DomainEvent):
    """The external call failed; retryable failures run again with the same key."""

    action_id: UUID
    resource: ResourceRef
    attempt: int = Field(ge=1, le=2**31 - 1)
    error: str
    retryable: bool
    next_attempt_at: Timestamp | None = None


class CompensationProposed(DomainEvent):
    """A revocation after execution proposes undoing the change (through policy again)."""

    action_id: UUID
    agent_id: Name
    resource: ResourceRef
    compensates_action_id: UUID
    action_type: Name
    parameters: Values
    reason: str


class ExecutionDeferred(DomainEvent):
    """An authorized action was not started: its agent is suspended or the emergency stop holds.

    It starts when the hold is lifted (reinstated, resumed), unless revoked meanwhile.
    """

    action_id: UUID
    resource: ResourceRef
    cause: Name
    """``agent_suspended`` or ``emergency_stop``."""
    detail: str = Field(max_length=2000)
