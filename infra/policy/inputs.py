"""The one input document a decision is based on, and its canonical text and digest.

Everything the policy may look at is in here — proposal, agent, budget, the actual state
of the resource, recent history, the time — so that the recorded text re-evaluates to
the same decision years later.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.agent import Agent
from domain.events import ActionProposed
from domain.values import Value
from infra.policy.catalog import ActionSpec, money_amounts

UNKNOWN_RESOURCE: dict[str, Any] = {"state": "unknown"}
"""The actual state of a resource until observations are projected (issue: projections)."""


@dataclass(frozen=True)
class HistoryEntry:
    """One earlier decision, as the policy sees it."""

    at_ms: int
    agent_id: str
    resource_key: str
    action_type: str
    outcome: str

    def document(self) -> dict[str, Any]:
        """The entry in the policy input."""
        return {
            "at_ms": self.at_ms, "agent_id": self.agent_id, "resource": self.resource_key,
            "action_type": self.action_type, "outcome": self.outcome,
        }  # fmt: skip


@dataclass
class Activity:
    """Decisions of one agent or on one resource: counts per window, the newest few."""

    last_minute: int = 0
    last_hour: int = 0
    recent: list[HistoryEntry] = field(default_factory=list)

    def document(self, limit: int) -> dict[str, Any]:
        """The activity in the policy input."""
        return {
            "last_minute": self.last_minute, "last_hour": self.last_hour,
            "recent": [entry.document() for entry in self.recent[:limit]],
        }  # fmt: skip

    def copy(self) -> Activity:
        """An independent copy."""
        return Activity(self.last_minute, self.last_hour, list(self.recent))


@dataclass
class History:
    """Recent activity per agent and per resource, and which (agent, resource) pairs met.

    Counts are precomputed per window: evaluating a count over hundreds of raw entries
    costs regopy milliseconds per decision.
    """

    by_agent: dict[str, Activity] = field(default_factory=dict)
    by_resource: dict[str, Activity] = field(default_factory=dict)
    touched: set[tuple[str, str]] = field(default_factory=set)

    def add(self, entry: HistoryEntry) -> None:
        """Count a decision just made (later proposals of the same batch see it)."""
        for activity in (
            self.by_agent.setdefault(entry.agent_id, Activity()),
            self.by_resource.setdefault(entry.resource_key, Activity()),
        ):
            activity.last_minute += 1
            activity.last_hour += 1
            activity.recent.insert(0, entry)
        if entry.outcome != "deny":
            self.touched.add((entry.agent_id, entry.resource_key))

    def copy(self) -> History:
        """A copy an attempt may extend without touching the original."""
        return History(
            by_agent={key: activity.copy() for key, activity in self.by_agent.items()},
            by_resource={key: activity.copy() for key, activity in self.by_resource.items()},
            touched=set(self.touched),
        )


@dataclass(frozen=True)
class PolicyInput:
    """The input document, its canonical JSON text and the sha256 of that text."""

    document: dict[str, Any]
    text: str
    digest: str

    @classmethod
    def of(cls, document: dict[str, Any]) -> PolicyInput:
        """Freeze ``document`` (JSON types only) with its canonical text and digest."""
        text = canonical_text(document)
        return cls(document, text, hashlib.sha256(text.encode()).hexdigest())

    @classmethod
    def from_text(cls, text: str) -> PolicyInput:
        """A recorded input, exactly as it was evaluated."""
        return cls.of(json.loads(text))


def canonical_text(document: dict[str, Any]) -> str:
    """Sorted keys, no whitespace, UTF-8 kept: the same document always gives the same text."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def build_input(  # noqa: PLR0913  # the input names everything a decision may depend on
    *,
    action_id: UUID,
    proposal: ActionProposed,
    agent: Agent,
    history: History,
    now: datetime,
    resource: dict[str, Any] | None = None,
    history_limit: int = 0,
    action: ActionSpec | None = None,
) -> PolicyInput:
    """The policy input for ``proposal`` by ``agent`` at ``now``.

    ``action`` is the catalog's declaration of the proposal's action type: the policy reads
    its effect and risk (``input.action``) and its money parameters as decimal numbers
    (``input.proposal.amounts``), whether they were sent as numbers or as strings.
    """
    key = proposal.resource.key
    mine = history.by_agent.get(agent.agent_id, Activity())
    theirs = history.by_resource.get(key, Activity())
    proposed: dict[str, Any] = {
        "action_id": str(action_id), "agent_id": proposal.agent_id,
        "idempotency_key": proposal.idempotency_key,
        "resource": {**proposal.resource.model_dump(), "key": key},
        "action_type": proposal.action_type, "parameters": plain(dict(proposal.parameters)),
        "preconditions": plain(dict(proposal.preconditions)), "confidence": proposal.confidence,
    }  # fmt: skip
    if proposal.estimated_cost is not None:
        proposed["estimated_cost"] = plain(proposal.estimated_cost)
    if proposal.plan_id is not None:
        proposed["plan_id"] = proposal.plan_id
    if action is not None:
        proposed["amounts"] = money_amounts(action, proposal.parameters)
    document = {
        "now": now.isoformat(),
        "now_ms": int(now.timestamp() * 1000),
        "proposal": proposed,
        "agent": {
            "id": agent.agent_id, "owner": agent.owner, "scopes": sorted(agent.scopes),
            "suspended": agent.suspended,
            "budget": budget_document(agent, now),
        },
        "resource": resource if resource is not None else UNKNOWN_RESOURCE,
        "history": {
            "agent": mine.document(history_limit),
            "resource": theirs.document(history_limit),
            "agent_touched_resource": (agent.agent_id, key) in history.touched,
        },
    }  # fmt: skip
    if action is not None:
        document["action"] = action.document()
    return PolicyInput.of(document)


def budget_document(agent: Agent, now: datetime) -> dict[str, Any]:
    """``agent.budget``: open reservations, and per period its window, limit, spend, headroom.

    ``available`` at the top is the least any limited period leaves (``null``: no limit).
    """
    periods = {
        spent.period.value: {
            "window": spent.window, "limit": _maybe(spent.limit), "settled": plain(spent.settled),
            "reserved": plain(spent.reserved), "available": _maybe(spent.available),
        }
        for spent in agent.spend(now)
    }  # fmt: skip
    limited = [spent.available for spent in agent.spend(now) if spent.available is not None]
    return {
        "reserved": plain(agent.reserved), "available": _maybe(min(limited, default=None)),
        "periods": periods,
    }  # fmt: skip


def _maybe(amount: Decimal | None) -> Any:  # noqa: ANN401  # a JSON number or null
    return None if amount is None else plain(amount)


def plain(value: Value) -> Any:  # noqa: ANN401  # the JSON counterpart of a value
    """``value`` in JSON types: decimals become numbers (integers when whole)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
