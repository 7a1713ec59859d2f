"""The approval queue: every approval request on ``actions.v1`` and where it stands.

What was proposed (agent, resource, type, parameters) comes from ``ActionProposed``;
the requests follow the ledger index's rules (:mod:`projections.approval_requests`).
A batch loads the rows of the actions it touches, folds its events in order, and
writes the final rows back in one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.sql import SQL, Composed

from domain.events import ActionProposed
from domain.ids import action_id
from domain.values import Record, Value
from projections.approval_requests import COLUMNS, Request, RequestEvent, fold
from projections.store import EveryRecordCounts, Tables, canonical

COLUMN_LIST = SQL(", ".join(COLUMNS))
UPDATES = SQL(", ".join(f"{name} = EXCLUDED.{name}" for name in COLUMNS[1:]))


class ApprovalQueue(EveryRecordCounts):
    """The ``approval_actions`` (what was proposed) and ``approval_requests`` tables."""

    name: str = "approvals"
    topics: tuple[str, ...] = ("actions.v1",)
    tables: tuple[str, ...] = ("approval_actions", "approval_requests")

    def create(self, t: Tables) -> list[Composed]:
        """One row per proposed action; one per approval request."""
        return [
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (action_id uuid PRIMARY KEY,"
                " agent_id text NOT NULL, resource_key text NOT NULL, action_type text NOT NULL,"
                " parameters jsonb NOT NULL, proposed_at timestamptz NOT NULL)"
            ).format(t("approval_actions")),
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (action_id uuid PRIMARY KEY, state text NOT NULL,"
                " approvals_required integer NOT NULL, approver_roles jsonb NOT NULL,"
                " approved_by jsonb NOT NULL, action_digest text NOT NULL, resource_version text,"
                " requested_at timestamptz NOT NULL, expires_at timestamptz NOT NULL,"
                " closed_at timestamptz)"
            ).format(t("approval_requests")),
        ]

    def apply(self, cur: psycopg.Cursor[Any], t: Tables, records: Sequence[Record]) -> None:
        """Record proposals once; fold the batch's request events, in order, into their rows."""
        proposed: dict[UUID, ActionProposed] = {}
        for record in records:
            if isinstance(record, ActionProposed):
                proposed.setdefault(action_id(record.agent_id, record.idempotency_key), record)
        if proposed:
            rows = list(proposed.values())
            cur.execute(
                SQL(
                    "INSERT INTO {0} (action_id, agent_id, resource_key, action_type, parameters,"
                    " proposed_at) SELECT * FROM unnest(%b::uuid[], %b::text[], %b::text[],"
                    " %b::text[], %b::jsonb[], %b::timestamptz[])"
                    " ON CONFLICT (action_id) DO NOTHING"
                ).format(t("approval_actions")),
                (list(proposed), [r.agent_id for r in rows], [r.resource.key for r in rows],
                 [r.action_type for r in rows], [canonical(r.parameters) for r in rows],
                 [r.metadata.occurred_at for r in rows]),
            )  # fmt: skip
        events = [r for r in records if isinstance(r, RequestEvent)]
        requests = self._load(cur, t, sorted({e.action_id for e in events}))
        for event in events:
            fold(requests, event)
        if requests:
            final = [astuple(requests[aid]) for aid in sorted(requests)]
            cur.execute(
                SQL(
                    "INSERT INTO {0} ({1}) SELECT * FROM unnest(%b::uuid[], %b::text[],"
                    " %b::integer[], %b::jsonb[], %b::jsonb[], %b::text[], %b::text[],"
                    " %b::timestamptz[], %b::timestamptz[], %b::timestamptz[])"
                    " ON CONFLICT (action_id) DO UPDATE SET {2}"
                ).format(t("approval_requests"), COLUMN_LIST, UPDATES),
                [[canonical(v) if isinstance(v, list) else v for v in column]
                 for column in zip(*final, strict=True)],
            )  # fmt: skip

    def _load(self, cur: psycopg.Cursor[Any], t: Tables, ids: list[UUID]) -> dict[UUID, Request]:
        if not ids:
            return {}
        cur.execute(
            SQL("SELECT {1} FROM {0} WHERE action_id = ANY(%s)").format(
                t("approval_requests"), COLUMN_LIST
            ),
            (ids,),
        )
        return {row[0]: Request(*row) for row in cur.fetchall()}


@dataclass(frozen=True)
class QueuedApproval:
    """An approval request with what it asks to approve."""

    action_id: UUID
    agent_id: str
    resource_key: str
    action_type: str
    parameters: dict[str, Value]
    state: str
    approvals_required: int
    approver_roles: list[str]
    approved_by: list[str]
    requested_at: datetime
    expires_at: datetime
    closed_at: datetime | None


def approval_queue(
    conn: psycopg.Connection[Any], prefix: str, *, state: str | None = "pending", limit: int = 100
) -> list[QueuedApproval]:
    """Requests in ``state`` (every state when ``None``), oldest requested first."""
    t = Tables(prefix)
    rows = conn.execute(
        SQL(
            "SELECT r.action_id, a.agent_id, a.resource_key, a.action_type, a.parameters,"
            " r.state, r.approvals_required, r.approver_roles, r.approved_by, r.requested_at,"
            " r.expires_at, r.closed_at FROM {0} AS r JOIN {1} AS a USING (action_id)"
            " WHERE %(state)s::text IS NULL OR r.state = %(state)s"
            " ORDER BY r.requested_at, r.action_id LIMIT %(limit)s"
        ).format(t("approval_requests"), t("approval_actions")),
        {"state": state, "limit": limit},
    ).fetchall()
    return [QueuedApproval(*row) for row in rows]
