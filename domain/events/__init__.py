"""Domain events: the records agentledger writes and reads, named in the past tense.

``ALL_EVENTS`` lists every event class; each has exactly one Avro schema in ``schemas/``
with the same name and fields.
"""

from __future__ import annotations

from domain.events.agents import (
    AgentBudgetChanged,
    AgentKeyRegistered,
    AgentKeyRevoked,
    AgentRegistered,
    AgentReinstated,
    AgentScopesChanged,
    AgentSuspended,
)
from domain.events.approvals import (
    ApprovalExpired,
    ApprovalRejected,
    ApprovalRequested,
    Approved,
    Revoked,
)
from domain.events.base import DomainEvent, EventMetadata
from domain.events.decisions import PolicyBundlePublished, PolicyDecided, ShadowDecisionDiffered
from domain.events.drift import DriftDetected, DriftResolved
from domain.events.execution import (
    Authorized,
    CompensationProposed,
    ExecutionDeferred,
    ExecutionStarted,
    MutationApplied,
    MutationFailed,
)
from domain.events.fleet import FleetResumed, FleetStopped
from domain.events.ledger import (
    BudgetReleased,
    BudgetReserved,
    BudgetSettled,
    LeaseAcquired,
    LeaseReleased,
)
from domain.events.observations import ChangeFeedChecked, ExternalStateObserved
from domain.events.proposals import ActionProposed, ProposalRejected

ALL_EVENTS: tuple[type[DomainEvent], ...] = (
    ActionProposed, ProposalRejected, PolicyDecided, ApprovalRequested, Approved,
    ApprovalRejected, ApprovalExpired, Revoked, Authorized, ExecutionStarted,
    MutationApplied, MutationFailed, CompensationProposed, ExternalStateObserved, ChangeFeedChecked,
    DriftDetected, DriftResolved, AgentRegistered, AgentScopesChanged, AgentBudgetChanged,
    AgentSuspended, AgentReinstated, PolicyBundlePublished, BudgetReserved, BudgetSettled,
    BudgetReleased, LeaseAcquired, LeaseReleased, ShadowDecisionDiffered, AgentKeyRegistered,
    AgentKeyRevoked, FleetStopped, FleetResumed, ExecutionDeferred,
)  # fmt: skip

__all__ = [
    "ALL_EVENTS",
    "ActionProposed",
    "AgentBudgetChanged",
    "AgentKeyRegistered",
    "AgentKeyRevoked",
    "AgentRegistered",
    "AgentReinstated",
    "AgentScopesChanged",
    "AgentSuspended",
    "ApprovalExpired",
    "ApprovalRejected",
    "ApprovalRequested",
    "Approved",
    "Authorized",
    "BudgetReleased",
    "BudgetReserved",
    "BudgetSettled",
    "ChangeFeedChecked",
    "CompensationProposed",
    "DomainEvent",
    "DriftDetected",
    "DriftResolved",
    "EventMetadata",
    "ExecutionDeferred",
    "ExecutionStarted",
    "ExternalStateObserved",
    "FleetResumed",
    "FleetStopped",
    "LeaseAcquired",
    "LeaseReleased",
    "MutationApplied",
    "MutationFailed",
    "PolicyBundlePublished",
    "PolicyDecided",
    "ProposalRejected",
    "Revoked",
    "ShadowDecisionDiffered",
]  # fmt: skip
