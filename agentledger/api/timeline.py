"""An action as the API shows it: its state and the timeline of its events."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from agentledger.api.models import ActionOut
from agentledger.api.shown import shown
from domain.action import Action
from domain.events import DomainEvent
from infra.ledger.ledger import Ledger


def timeline(ledger: Ledger, aid: UUID) -> list[dict[str, Any]]:
    """Every event of the action, oldest first, as JSON-ready dicts."""
    entries = []
    for event in ledger.events.get(aid):
        record = getattr(event, "record", None)
        if not isinstance(record, DomainEvent):
            continue
        entries.append({
            "event": type(record).__name__, "event_id": str(record.metadata.event_id),
            "occurred_at": record.metadata.occurred_at.isoformat(),
            "version": record.metadata.aggregate_version,
            "data": shown({name: getattr(record, name) for name in type(record).model_fields
                           if name != "metadata"}),
        })  # fmt: skip
    return entries


def action_view(ledger: Ledger, aid: UUID) -> ActionOut:
    """The action's state and timeline, or ``LookupError``."""
    try:
        action: object = ledger.repository.get(aid)
    except AggregateNotFoundError:
        raise LookupError(f"no action {aid}") from None
    if not isinstance(action, Action):
        raise LookupError(f"no action {aid}")  # noqa: TRY004  # another aggregate's id: not found
    return ActionOut(
        action_id=aid, agent_id=action.agent_id, resource=action.resource.key,
        action_type=action.action_type, status=str(action.status), action_digest=action.digest,
        parameters=shown(action.parameters), timeline=timeline(ledger, aid),
    )  # fmt: skip
