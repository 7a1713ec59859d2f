"""Idempotency keys that belong to the system: a compensation's, for that compensation only.

The executor proposes a revoked action's undo under ``compensates:<action id>``. Were any
proposal with that key decided, an agent could take it first and have the real undo
refused as a duplicate. So the ledger decides: only a proposal equal to what the
executor proposes for the compensation it recorded may use the key. Equal in everything
policy weighs (agent, resource, action type, parameters, no preconditions, no cost, full
confidence, no plan), compared by canonical text so that ``1`` is not ``true``, and under
the key spelled exactly as the system spells it. The rationale may differ: it is prose.
"""

from __future__ import annotations

from uuid import UUID

from domain.canonical import canonical_text
from domain.events import ActionProposed
from domain.ids import COMPENSATION_PREFIX, compensation_key
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
    undo_type, undo_parameters = undo
    recorded = {
        "key": compensation_key(revoked.id), "agent_id": revoked.agent_id,
        "resource": revoked.resource, "action_type": undo_type, "parameters": undo_parameters,
        "preconditions": {}, "estimated_cost": None, "confidence": 1.0, "plan_id": None,
    }  # fmt: skip
    proposed = {
        "key": key, "agent_id": proposal.agent_id, "resource": proposal.resource,
        "action_type": proposal.action_type, "parameters": proposal.parameters,
        "preconditions": proposal.preconditions, "estimated_cost": proposal.estimated_cost,
        "confidence": proposal.confidence, "plan_id": proposal.plan_id,
    }  # fmt: skip
    if canonical_text(proposed) != canonical_text(recorded):
        return f"{refusal}; this is not the compensation recorded for action {revoked.id}"
    return None
