"""Named domain exceptions, one per invariant a command can violate (DESIGN.md 1-8)."""

from __future__ import annotations


class DomainError(Exception):
    """A command was refused: the state or the invariants do not allow it."""

    code = "domain_error"


class InvalidTransition(DomainError):
    """The action is not in a state where this command applies."""

    code = "invalid_transition"


class NotAuthorized(DomainError):
    """Invariant 2: nothing executes without Authorized, never after revoke/expiry/denial."""

    code = "not_authorized"


class StaleApproval(DomainError):
    """Invariant 3: the approval was bound to another digest or resource version."""

    code = "stale_approval"


class SelfApproval(DomainError):
    """Invariant 4: the proposing agent or its owner may not approve."""

    code = "self_approval"


class ApproverNotEligible(DomainError):
    """Invariant 4: the approver holds none of the roles the obligations require."""

    code = "approver_not_eligible"


class AlreadyApproved(DomainError):
    """Invariant 4: quorum counts distinct approvers; this one approved already."""

    code = "already_approved"


class ApprovalWindowClosed(DomainError):
    """An approval arrived at or after the request's expiry (fail closed)."""

    code = "approval_window_closed"


class ApprovalStillOpen(DomainError):
    """Expiry was requested before the approval request's deadline."""

    code = "approval_still_open"


class LeaseHeld(DomainError):
    """Invariant 5: another execution holds the resource's lease."""

    code = "lease_held"


class StalePrecondition(DomainError):
    """Invariant 6: what the agent believed about the resource is no longer true."""

    code = "stale_precondition"


class BudgetExceeded(DomainError):
    """Invariant 7: the reservation would exceed the agent's budget."""

    code = "budget_exceeded"


class AgentSuspended(DomainError):
    """Invariant 7: the kill switch is on; nothing new is authorized for this agent."""

    code = "agent_suspended"


class ExecutionInFlight(DomainError):
    """A revocation cannot interrupt a running execution; revoke after it ends."""

    code = "execution_in_flight"


class UnknownAgent(DomainError):
    """No agent is registered under this id."""

    code = "unknown_agent"


class KeyRevoked(DomainError):
    """A revoked key may not be registered again: a new key is made instead."""

    code = "key_revoked"


class UnknownKey(DomainError):
    """The agent has no such key."""

    code = "unknown_key"


class InvalidKey(DomainError):
    """Not a real Ed25519 public key (a small-order or non-canonical point verifies forgeries)."""

    code = "invalid_key"


class EmergencyStop(DomainError):
    """The fleet-wide emergency stop holds: nothing new is authorized or started."""
