"""Registered agents and a counter of controls per subject, kept in step with the events.

``<prefix>_agents`` lists every registered agent (for listings). ``<prefix>_controls``
holds, per subject (``agent:<id>``, ``fleet``), the aggregate version of its last kill
switch or emergency stop. A batch that authorizes or starts an action records the version
of each subject it read; the recorder refuses the save if a control is beyond it
(:meth:`LedgerRecorder._check_controls`). Versions, not counts: a ledger whose controls
predate the table needs no backfill, any new control is beyond what was read.
"""

from __future__ import annotations

from typing import Any

from psycopg.sql import SQL

from domain.events import (
    AgentBudgetChanged,
    AgentKeyRevoked,
    AgentRegistered,
    AgentReinstated,
    AgentScopesChanged,
    AgentSuspended,
    DomainEvent,
    FleetResumed,
    FleetStopped,
)
from infra.ledger.recorder import LedgerRecorder, SideWrite

FLEET_SUBJECT = "fleet"
AGENT_CONTROLS = (
    AgentSuspended, AgentReinstated, AgentScopesChanged, AgentBudgetChanged, AgentKeyRevoked,
)  # fmt: skip
"""What an authorization relies on not having changed: kill switch, scopes, budget, keys."""


def agent_subject(agent_id: str) -> str:
    """The controls subject of an agent's kill switch."""
    return f"agent:{agent_id}"


class ControlIndex:
    """The ``<prefix>_agents`` and ``<prefix>_controls`` tables: side writes and a listing."""

    def __init__(self, recorder: LedgerRecorder) -> None:
        """The tables of ``recorder``'s ledger."""
        self._recorder = recorder
        self._register = SQL(
            "INSERT INTO {0} (agent_id, registered_at) VALUES (%s, %s) ON CONFLICT DO NOTHING"
        ).format(recorder.table("agents"))
        self._control = SQL(
            "INSERT INTO {0} AS c (subject, version) VALUES (%s, %s) ON CONFLICT (subject)"
            " DO UPDATE SET version = GREATEST(c.version, EXCLUDED.version)"
        ).format(recorder.table("controls"))
        self._list = SQL("SELECT agent_id FROM {0} ORDER BY agent_id").format(
            recorder.table("agents")
        )

    def side_writes(self, _: Any, record: DomainEvent) -> list[SideWrite]:  # noqa: ANN401  # any aggregate
        """The table changes ``record`` makes."""
        if isinstance(record, AgentRegistered):
            return [SideWrite(self._register, (record.agent_id, record.metadata.occurred_at))]
        version = record.metadata.aggregate_version
        if isinstance(record, AGENT_CONTROLS):
            return [SideWrite(self._control, (agent_subject(record.agent_id), version))]
        if isinstance(record, FleetStopped | FleetResumed):
            return [SideWrite(self._control, (FLEET_SUBJECT, version))]
        return []

    def agent_ids(self) -> list[str]:
        """Every registered agent's id, in order."""
        with self._recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(self._list)
            return [row["agent_id"] for row in cursor.fetchall()]
