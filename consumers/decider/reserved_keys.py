"""Idempotency keys that belong to the system: a compensation's, for that compensation only.

The executor proposes a revoked action's undo under ``compensates:<action id>``. Were any
proposal with that key decided, an agent could take it first and have the real undo
refused as a duplicate. So the ledger decides: only a proposal equal to the compensation
it recorded for that action (agent, resource, action type and parameters) may use it.
"""

from __future__ import annotations

from uuid import UUID

from domain.events import ActionProposed
from domain.ids import COMPENSATION_PREFIX
from infra.ledger.commands import Commands


def reserved_key_problem(tx: Commands, proposal: ActionProposed) -> str | None:
    """Why ``proposal`` may not use its idempotency key, or ``None`` if it may."""
    key = proposal.idempotency_key
    if not key.startswith(COMPENSATION_PREFIX):
        return None
    refusal = f"idempotency keys starting {COMPENSATION_PREFIX!r} are reserved for compensations"
    try:
        revoked = tx.action(UUID(key.removeprefix(COMPENSATION_PREFIX)))
    except (ValueError, LookupError, TypeError):  # not a UUID, nothing there, not an action
        return f"{refusal}; no action {key.removeprefix(COMPENSATION_PREFIX)!r} is known"
    undo = revoked.compensation()
    if undo is None:
        return f"{refusal}; action {revoked.id} was not revoked after it ran"
    recorded = (revoked.agent_id, revoked.resource, *undo)
    proposed = (proposal.agent_id, proposal.resource, proposal.action_type, proposal.parameters)
    if proposed != recorded:
        return f"{refusal}; this is not the compensation recorded for action {revoked.id}"
    return None
