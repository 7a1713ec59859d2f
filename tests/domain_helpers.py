"""Builders for domain tests: a controllable clock and ready-made aggregates."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.action import Action
from domain.context import CommandContext
from domain.events import ActionProposed
from domain.events.decisions import DecisionOutcome, Obligations
from domain.ids import action_id

START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Clock:
    """An injected clock that moves only when told, with deterministic ids."""

    now: datetime = START
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def ctx(self) -> CommandContext:
        """A command context at the current time."""
        return CommandContext(now=self.now, new_id=self.new_id, correlation_id=UUID(int=0))

    def new_id(self) -> UUID:
        """The next id in sequence."""
        return UUID(int=next(self._ids))

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += timedelta(seconds=seconds)


def proposal(
    key: str = "k1", *, agent: str = "agent-1", resource: str = "crm/contact/42", **changes: Any
) -> ActionProposed:
    """A valid proposal; ``changes`` override fields."""
    system, kind, ident = resource.split("/")
    fields: dict[str, Any] = {
        "metadata": {"event_id": UUID(int=999), "correlation_id": UUID(int=998), "occurred_at": START},
        "agent_id": agent, "idempotency_key": key,
        "resource": {"system": system, "type": kind, "id": ident},
        "action_type": "contact.update", "parameters": {"email": "new@x.io"},
        "preconditions": {"email": "old@x.io"}, "confidence": 0.9,
    }  # fmt: skip
    return ActionProposed.model_validate(fields | changes)


def obligations(
    approvals: int = 0,
    roles: list[str] | None = None,
    ttl: int | None = None,
    budget: str | None = None,
) -> Obligations:
    """Obligations of a decision."""
    return Obligations(
        approvals_required=approvals, approver_roles=roles or [], approval_ttl_seconds=ttl,
        budget_reservation=Decimal(budget) if budget else None, extra={},
    )  # fmt: skip


def decided(
    clock: Clock, outcome: DecisionOutcome, ob: Obligations | None = None, **kw: Any
) -> Action:
    """An action proposed and decided with ``outcome``; its events already collected."""
    action = Action.propose(clock.ctx(), action_id("agent-1", kw.pop("key", "k1")), proposal(**kw))
    action.decide(
        clock.ctx(), outcome=outcome, reasons=[], obligations=ob or obligations(),
        bundle_digest="b" * 64, bundle_version="1", input_digest="i" * 64,
        resource_version="v1", agent_active=True,
    )  # fmt: skip
    action.collect_events()
    return action


def records_of(aggregate: Any) -> list[Any]:
    """The contract records of the aggregate's pending events, collected."""
    return [event.record for event in aggregate.collect_events()]


def names(action: Any) -> list[str]:
    """Record types of the aggregate's pending events, collected."""
    return [type(event.record).__name__ for event in action.collect_events()]
