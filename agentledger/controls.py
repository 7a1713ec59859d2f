"""What operators did to agents and the fleet, read back from the ledger: who, when, why."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.events import (
    AgentBudgetChanged,
    AgentKeyRegistered,
    AgentKeyRevoked,
    AgentReinstated,
    AgentScopesChanged,
    AgentSuspended,
    DomainEvent,
    FleetResumed,
    FleetStopped,
)
from domain.ids import FLEET_ID, agent_aggregate_id
from infra.ledger.ledger import Ledger


@dataclass(frozen=True)
class ControlEntry:
    """One control as recorded: its kind, subject, who pulled it, why, and what it set."""

    at: datetime
    control: str
    subject: str
    by: str
    reason: str | None
    detail: str | None = None


def entry_of(record: DomainEvent) -> ControlEntry | None:  # noqa: PLR0911  # one answer per control
    """The control ``record`` is, or ``None`` for bookkeeping (reservations, registration)."""
    at = record.metadata.occurred_at
    match record:
        case AgentSuspended():
            return ControlEntry(
                at, "suspended", record.agent_id, record.suspended_by, record.reason
            )
        case AgentReinstated():
            return ControlEntry(at, "reinstated", record.agent_id, record.reinstated_by,
                                record.reason)  # fmt: skip
        case AgentScopesChanged():
            return ControlEntry(at, "scopes_changed", record.agent_id, record.changed_by,
                                record.reason, ", ".join(record.scopes) or "(none)")  # fmt: skip
        case AgentBudgetChanged():
            period = record.period or "day"
            return ControlEntry(at, "budget_changed", record.agent_id, record.changed_by,
                                record.reason, f"{period} limit {record.budget_limit}")  # fmt: skip
        case AgentKeyRegistered():
            return ControlEntry(at, "key_registered", record.agent_id, record.registered_by, None,
                                record.key_id)  # fmt: skip
        case AgentKeyRevoked():
            return ControlEntry(at, "key_revoked", record.agent_id, record.revoked_by,
                                record.reason, record.key_id)  # fmt: skip
        case FleetStopped():
            return ControlEntry(at, "emergency_stop", "fleet", record.stopped_by, record.reason)
        case FleetResumed():
            return ControlEntry(at, "resumed", "fleet", record.resumed_by, record.reason)
    return None


def controls_of(ledger: Ledger, agent_id: str | None) -> list[ControlEntry]:
    """The controls of one agent, or (``None``) of the fleet's emergency stop, oldest first."""
    aggregate = FLEET_ID if agent_id is None else agent_aggregate_id(agent_id)
    return _entries(getattr(event, "record", None) for event in ledger.events.get(aggregate))


def every_control(ledger: Ledger) -> list[ControlEntry]:
    """Every control on every agent and on the fleet, oldest first."""
    agents = ledger.controls.agent_ids() if ledger.controls is not None else []
    found = controls_of(ledger, None)
    for agent_id in agents:
        found += controls_of(ledger, agent_id)
    return sorted(found, key=lambda entry: entry.at)


def _entries(records: Iterable[Any]) -> list[ControlEntry]:
    found = (entry_of(r) for r in records if isinstance(r, DomainEvent))
    return [entry for entry in found if entry is not None]
