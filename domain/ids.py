"""Deterministic identities: the same intent always maps to the same aggregate."""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID, uuid5

LEDGER = UUID("5b1c3a8e-2f4d-4c1e-9a7b-6d0e8f1a2b3c")


def action_id(agent_id: str, idempotency_key: str) -> UUID:
    """An action's id: one per (agent, idempotency key), invariant 1."""
    return uuid5(LEDGER, f"action\x00{agent_id}\x00{idempotency_key}")


@lru_cache(maxsize=4096)
def agent_aggregate_id(agent_id: str) -> UUID:
    """The Agent aggregate's id for an agent (agents are few and asked for on every command)."""
    return uuid5(LEDGER, f"agent\x00{agent_id}")


def lease_id(resource_key: str) -> UUID:
    """The ResourceLease aggregate's id for a resource key."""
    return uuid5(LEDGER, f"lease\x00{resource_key}")


COMPENSATION_PREFIX = "compensates:"
"""Idempotency keys under it are the system's: only the compensation the ledger recorded
for the action named after it may use one (the decider refuses any other as
``reserved_key``), so no agent can take a compensation's key first."""


def compensation_key(action: UUID) -> str:
    """The idempotency key of the proposal that compensates ``action`` (one per action)."""
    return f"{COMPENSATION_PREFIX}{action}"


COMPENSATION_SUFFIX = ".compensate"
"""Appended to an action type to name the action that undoes it."""


def rejection_id(source: str) -> UUID:
    """The ProposalRejection aggregate's id for the proposal read at ``source``."""
    return uuid5(LEDGER, f"rejection\x00{source}")


def bundle_id(bundle_digest: str) -> UUID:
    """The PolicyBundle aggregate's id: one per distinct bundle content."""
    return uuid5(LEDGER, f"bundle\x00{bundle_digest}")


FLEET_ID = uuid5(LEDGER, "fleet")
"""The one fleet aggregate (the emergency stop)."""
