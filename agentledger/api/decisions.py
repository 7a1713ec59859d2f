"""An action's decision as an agent waits for it: the first one at or after a moment.

Read from the action's timeline (the projection of ``actions.v1``), so a rejection is
found as well as a policy decision: a rejected proposal has no action in the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import UUID

from agentledger.api.models import DecisionOut
from projections.timeline import TimelineEntry

DECISIONS = ("PolicyDecided", "ProposalRejected")

Timeline = Callable[[UUID], list[TimelineEntry]]
"""The events of an action, as the timeline view holds them."""


def decision_for(
    timeline: Timeline, aid: UUID, reader: str | None, since: datetime | None
) -> DecisionOut:
    """The first decision on ``aid`` since ``since``, as ``reader`` may see it.

    ``reader`` is an agent's id (it sees its own actions only) or ``None`` (an approver).
    Another agent's action is not found, before anything about it is looked at.
    """
    entries = timeline(aid)
    owners = {entry.data["agent_id"] for entry in entries if "agent_id" in entry.data}
    if reader is not None and owners != {reader}:
        raise LookupError(f"no decision on {aid} yet")
    return _first(entries, aid, since)


def _first(entries: Sequence[TimelineEntry], aid: UUID, since: datetime | None) -> DecisionOut:
    found = [
        entry for entry in entries
        if entry.event in DECISIONS and (since is None or entry.occurred_at >= since)
    ]  # fmt: skip
    if not found:
        raise LookupError(f"no decision on {aid} yet")
    entry = min(found, key=lambda e: e.occurred_at)
    data = entry.data
    if entry.event == "ProposalRejected":
        return DecisionOut(
            action_id=aid, agent_id=data.get("agent_id"), outcome="rejected",
            reasons=[data["reason"]], existing_action_id=data.get("existing_action_id"),
            decided_at=entry.occurred_at,
        )  # fmt: skip
    return DecisionOut(
        action_id=aid, agent_id=data.get("agent_id"), outcome=data["outcome"],
        reasons=data["reasons"], obligations=data["obligations"],
        bundle_digest=data["bundle_digest"], bundle_version=data["bundle_version"],
        input_digest=data["input_digest"], decided_at=entry.occurred_at,
    )  # fmt: skip
