"""Decisions without effects: ``plan`` (one proposal now) and impact replay (a candidate bundle).

Both read the ledger and the recorded decisions; neither records anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.agent import Agent
from domain.events import ActionProposed
from domain.ids import action_id, agent_aggregate_id
from infra.ledger.ledger import Ledger
from infra.policy.engine import PolicyEngine, PolicyResult
from infra.policy.inputs import PolicyInput, build_input
from infra.policy.records import DecisionRecords, DecisionRow


class PlanRefused(Exception):  # names the condition, like our other errors
    """The proposal would be rejected before any policy ran (unknown agent, scope)."""


def plan(  # noqa: PLR0913  # a plan needs what a decision needs
    the_ledger: Ledger, records: DecisionRecords, engine: PolicyEngine, proposal: ActionProposed,
    *, now: datetime, history_limit: int,
) -> tuple[PolicyResult, PolicyInput]:  # fmt: skip
    """The decision ``proposal`` would get now, and its input; nothing is recorded."""
    try:
        agent: Agent = the_ledger.repository.get(agent_aggregate_id(proposal.agent_id))
    except Exception as exc:  # AggregateNotFoundError and kin
        raise PlanRefused(f"unknown_agent: no agent {proposal.agent_id!r} is registered") from exc
    refused = engine.catalog.refusal(proposal)
    if refused is not None:
        raise PlanRefused(": ".join(refused))
    resource = proposal.resource
    spec = engine.catalog.spec(resource.system, resource.type, proposal.action_type)
    if not agent.may(proposal.resource.system, proposal.action_type):
        raise PlanRefused(f"scope_missing: agent {agent.agent_id} may not {proposal.action_type}")
    key = proposal.resource.key
    history = records.history(
        {agent.agent_id}, {(agent.agent_id, key)}, now_ms=int(now.timestamp() * 1000),
        limit=history_limit,
    )  # fmt: skip
    policy_input = build_input(
        action_id=action_id(proposal.agent_id, proposal.idempotency_key), proposal=proposal,
        agent=agent, history=history, now=now, history_limit=history_limit, action=spec,
    )  # fmt: skip
    return engine.evaluate(policy_input.document), policy_input


@dataclass(frozen=True)
class Flip:
    """A recorded decision the candidate bundle would decide otherwise."""

    row: DecisionRow
    candidate: PolicyResult


@dataclass
class Impact:
    """What a candidate bundle would change across the recorded decisions."""

    total: int = 0
    flips: list[Flip] = field(default_factory=list)
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        """Counts: decisions re-evaluated, unchanged, flipped per transition."""
        return {
            "decisions": self.total, "unchanged": self.total - len(self.flips),
            "flipped": len(self.flips),
            "transitions": {f"{a} -> {b}": n for (a, b), n in sorted(self.transitions.items())},
        }  # fmt: skip


def impact(decided: Iterable[tuple[DecisionRow, PolicyInput]], candidate: PolicyEngine) -> Impact:
    """Re-evaluate every recorded input against ``candidate``; collect the outcomes that flip."""
    found = Impact()
    for row, policy_input in decided:
        found.total += 1
        result = candidate.evaluate_declared(policy_input.document)
        if result.outcome.value != row.outcome:
            found.flips.append(Flip(row, result))
            found.transitions[row.outcome, result.outcome.value] += 1
    return found
