"""The approval requests of a ledger, kept in step with its events (same transaction).

Every ``ApprovalRequested`` opens (or re-opens) a row; approvals, authorization,
rejection, expiry and revocation move it on. The expirer finds due requests here, so
expiry timers survive any restart: they are rows, not timers in a process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.rows import dict_row
from psycopg.sql import SQL, Composed

from domain.events import (
    ApprovalExpired,
    ApprovalRejected,
    ApprovalRequested,
    Approved,
    Authorized,
    DomainEvent,
    Revoked,
)
from domain.values import Value
from infra.ledger.recorder import LedgerRecorder, SideWrite

CLOSING = {
    Authorized: "approved",
    ApprovalRejected: "rejected",
    ApprovalExpired: "expired",
    Revoked: "revoked",
}


@dataclass(frozen=True)
class ApprovalRow:
    """One approval request and where it stands."""

    action_id: UUID
    agent_id: str
    resource_key: str
    action_type: str
    parameters: dict[str, Value]
    state: str
    approvals_required: int
    approver_roles: list[str]
    approved_by: list[str]
    action_digest: str
    resource_version: str | None
    requested_at: datetime
    expires_at: datetime
    closed_at: datetime | None


class ApprovalIndex:
    """The ``<prefix>_approvals`` table: side writes for new events, and its queries."""

    def __init__(self, recorder: LedgerRecorder) -> None:
        """The table of ``recorder``'s ledger."""
        self._recorder = recorder
        table = recorder.table("approvals")
        self._open = SQL(
            "INSERT INTO {0} (action_id, agent_id, resource_key, action_type, parameters, state,"
            " approvals_required, approver_roles, approved_by, action_digest, resource_version,"
            " requested_at, expires_at) VALUES (%s, %s, %s, %s, %s, 'pending', %s, %s, '{{}}',"
            " %s, %s, %s, %s) ON CONFLICT (action_id) DO UPDATE SET state = 'pending',"
            " approved_by = '{{}}', resource_version = EXCLUDED.resource_version,"
            " requested_at = EXCLUDED.requested_at, expires_at = EXCLUDED.expires_at,"
            " closed_at = NULL"
        ).format(table)
        self._approved = SQL(
            "UPDATE {0} SET approved_by = array_append(approved_by, %s) WHERE action_id = %s"
        ).format(table)
        self._close = SQL("UPDATE {0} SET state = %s, closed_at = %s WHERE action_id = %s").format(
            table
        )
        self._select = SQL("SELECT * FROM {0}").format(table)

    def side_writes(self, action: Any, record: DomainEvent) -> list[SideWrite]:  # noqa: ANN401  # an Action
        """The table changes ``record`` (just recorded on ``action``) makes."""
        if isinstance(record, ApprovalRequested):
            params = (
                record.action_id, action.agent_id, record.resource.key, action.action_type,
                json.dumps(action.parameters, default=str, sort_keys=True),
                record.approvals_required, record.approver_roles, record.action_digest,
                record.resource_version, record.metadata.occurred_at, record.expires_at,
            )  # fmt: skip
            return [SideWrite(self._open, params)]
        if isinstance(record, Approved):
            return [SideWrite(self._approved, (record.approver, record.action_id))]
        state = CLOSING.get(type(record))
        if state is None or not action.asked_for_approval:
            return []  # an action allowed outright has no request to close
        when = record.metadata.occurred_at
        return [SideWrite(self._close, (state, when, record.action_id))]  # type: ignore[attr-defined]  # every CLOSING record has action_id

    def get(self, action_id: UUID) -> ApprovalRow | None:
        """The approval request of an action, if it ever had one."""
        rows = self._query(SQL("{0} WHERE action_id = %s").format(self._select), (action_id,))
        return rows[0] if rows else None

    def listing(self, state: str | None = None, limit: int = 100) -> list[ApprovalRow]:
        """Requests in ``state`` (all when ``None``), oldest first."""
        if state is None:
            query = SQL("{0} ORDER BY requested_at LIMIT %s").format(self._select)
            return self._query(query, (limit,))
        query = SQL("{0} WHERE state = %s ORDER BY requested_at LIMIT %s").format(self._select)
        return self._query(query, (state, limit))

    def pending(self) -> int:
        """How many requests wait for a decision now."""
        query = SQL("SELECT count(*) AS n FROM ({0} WHERE state = 'pending') AS waiting").format(
            self._select
        )
        with self._recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(query)
            found = cursor.fetchone()
        return int(found["n"]) if found else 0

    def due(self, now: datetime, limit: int = 500) -> list[UUID]:
        """Pending requests whose deadline has passed at ``now``, earliest first."""
        query = SQL(
            "{0} WHERE state = 'pending' AND expires_at <= %s ORDER BY expires_at LIMIT %s"
        ).format(self._select)
        return [row.action_id for row in self._query(query, (now, limit))]

    def _query(self, query: Composed, params: tuple[Any, ...]) -> list[ApprovalRow]:
        with self._recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.row_factory = dict_row
            cursor.execute(query, params)
            rows = cursor.fetchall()
        return [ApprovalRow(**{**row, "parameters": json.loads(row["parameters"])}) for row in rows]
