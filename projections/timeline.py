"""Action timelines: every event of every action on ``actions.v1``, once each.

A row per (action, event) with the event's data and its place in the action's history
(``seq``: the action's events share its resource's partition, so the topic's order is
the true order, the same live and in a replay). A rejected proposal is the exception:
it is keyed by the resource it named, which may be another one (a key reused for another
resource), so its place among the action's events depends on how two partitions were
interleaved; it takes no place (``seq`` 0) and is listed first, by time. Decisions keep
the digest of their policy input, which :func:`action_timeline` can join to the ledger's
recorded inputs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.sql import SQL, Composed, Identifier
from psycopg_pool import ConnectionPool

from domain.events import (
    ActionProposed,
    DomainEvent,
    PolicyDecided,
    ProposalRejected,
    ShadowDecisionDiffered,
)
from domain.ids import action_id
from domain.values import Record
from projections.store import BUILD, EveryRecordCounts, Tables, canonical


class ActionTimeline(EveryRecordCounts):
    """The ``timeline_events`` table."""

    name: str = "timeline"
    topics: tuple[str, ...] = ("actions.v1",)
    tables: tuple[str, ...] = ("timeline_events",)
    indexes: tuple[str, ...] = ("timeline_plans",)
    """Secondary indexes a rebuild's switch renames with their table."""

    def create(self, t: Tables) -> list[Composed]:
        """One row per event of an action (lease events included: they name their action)."""
        return [
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (action_id uuid NOT NULL, event_id uuid NOT NULL,"
                " seq integer NOT NULL, event text NOT NULL, occurred_at timestamptz NOT NULL,"
                " version bigint,"
                " data jsonb NOT NULL, input_digest text, PRIMARY KEY (action_id, event_id))"
            ).format(t("timeline_events")),
            SQL(
                "CREATE INDEX IF NOT EXISTS {0} ON {1} ((data->>'agent_id'), (data->>'plan_id'))"
                " WHERE event = 'ActionProposed'"
            ).format(Identifier(_index_name(t, "timeline_plans")), t("timeline_events")),
        ]

    def apply(self, cur: psycopg.Cursor[Any], t: Tables, records: Sequence[Record]) -> None:
        """Add each event that belongs to an action, once, numbered after those stored."""
        rows: dict[tuple[UUID, UUID], DomainEvent] = {}
        for record in records:
            owner = _action_of(record)
            if owner is not None and isinstance(record, DomainEvent):
                rows.setdefault((owner, record.metadata.event_id), record)
        if not rows:
            return
        cur.execute(
            SQL("SELECT action_id, event_id, seq FROM {0} WHERE action_id = ANY(%s)").format(
                t("timeline_events")
            ),
            (sorted({owner for owner, _ in rows}),),
        )
        counts: dict[UUID, int] = {}
        for owner, event_id, seq in cur.fetchall():
            counts[owner] = max(counts.get(owner, 0), seq)
            rows.pop((owner, event_id), None)  # a repeat of an earlier batch's: no new seq
        if not rows:
            return
        events = list(rows.values())
        seqs = []
        for (owner, _), event in rows.items():
            if isinstance(event, ProposalRejected):
                seqs.append(0)
                continue
            counts[owner] = counts.get(owner, 0) + 1
            seqs.append(counts[owner])
        cur.execute(
            SQL(
                "INSERT INTO {0} (action_id, event_id, seq, event, occurred_at, version, data,"
                " input_digest) SELECT * FROM unnest(%b::uuid[], %b::uuid[], %b::integer[],"
                " %b::text[], %b::timestamptz[], %b::bigint[], %b::jsonb[], %b::text[])"
            ).format(t("timeline_events")),
            (
                [owner for owner, _ in rows], [event for _, event in rows], seqs,
                [type(e).__name__ for e in events], [e.metadata.occurred_at for e in events],
                [e.metadata.aggregate_version for e in events],
                [canonical(e.model_dump(mode="json", exclude={"metadata"})) for e in events],
                [e.input_digest if isinstance(e, PolicyDecided | ShadowDecisionDiffered)
                 else None for e in events],
            ),
        )  # fmt: skip


def _index_name(t: Tables, name: str) -> str:
    """An index's bare name (it lives in its table's schema), unique per build."""
    bare = t.prefix.rpartition(".")[2]
    return f"{bare}_{name}{BUILD if t.build else ''}"


def planned_actions(
    conn: psycopg.Connection[Any], prefix: str, agent_id: str, plan_id: str, limit: int
) -> list[UUID]:
    """The actions ``agent_id`` proposed under ``plan_id``, in the order it proposed them."""
    rows = conn.execute(
        SQL(
            "SELECT action_id FROM {0} WHERE event = 'ActionProposed'"
            " AND data->>'agent_id' = %s AND data->>'plan_id' = %s"
            " ORDER BY occurred_at, action_id LIMIT %s"
        ).format(Tables(prefix)("timeline_events")),
        (agent_id, plan_id, limit),
    ).fetchall()
    return [action for (action,) in rows]


def _action_of(record: Record) -> UUID | None:
    """The action ``record`` belongs to (a proposal's id is derived), if any."""
    if isinstance(record, ActionProposed):
        return action_id(record.agent_id, record.idempotency_key)
    owner = getattr(record, "action_id", None)
    return owner if isinstance(owner, UUID) else None


@dataclass(frozen=True)
class TimelineEntry:
    """One event of an action; ``input`` is the full policy input of a decision, if asked."""

    event_id: UUID
    event: str
    occurred_at: datetime
    version: int | None
    data: dict[str, Any]
    input_digest: str | None
    input: dict[str, Any] | None


def action_timeline(
    conn: psycopg.Connection[Any],
    prefix: str,
    action: UUID,
    *,
    inputs_table: str | None = None,
) -> list[TimelineEntry]:
    """The events of ``action`` in the topic's order; decision inputs from ``inputs_table``."""
    joined = (
        SQL("LEFT JOIN {0} AS i ON i.digest = e.input_digest").format(Identifier(inputs_table))
        if inputs_table is not None
        else SQL("LEFT JOIN (SELECT NULL::text AS digest, NULL::text AS input) AS i ON FALSE")
    )
    rows = conn.execute(
        SQL(
            "SELECT e.event_id, e.event, e.occurred_at, e.version, e.data, e.input_digest,"
            " i.input FROM {0} AS e {1} WHERE e.action_id = %s"
            " ORDER BY e.seq, e.occurred_at, e.event_id"
        ).format(Tables(prefix)("timeline_events"), joined),
        (action,),
    ).fetchall()
    return [
        TimelineEntry(
            event_id, event, at, version, data, digest, json.loads(text) if text else None
        )
        for event_id, event, at, version, data, digest, text in rows
    ]


class TimelineReader:
    """Reads one action's timeline at a time, through a small pool (waiting agents poll)."""

    def __init__(self, database_url: str, prefix: str) -> None:
        """The timeline view of the ledger whose views start with ``prefix``."""
        self.prefix = prefix
        self._pool = ConnectionPool(
            database_url, min_size=1, max_size=4, open=False, timeout=10.0,
            kwargs={"autocommit": True, "connect_timeout": 5}, name="timeline",
        )  # fmt: skip

    def __call__(self, action: UUID) -> list[TimelineEntry]:
        """The action's events; none while the view is not made yet."""
        self._pool.open()
        try:
            with self._pool.connection() as conn:
                return action_timeline(conn, self.prefix, action)
        except psycopg.errors.UndefinedTable:
            return []

    def plan(self, agent_id: str, plan_id: str, limit: int = 1000) -> list[UUID]:
        """The actions the agent proposed under ``plan_id`` (none while the view is not made)."""
        self._pool.open()
        try:
            with self._pool.connection() as conn:
                return planned_actions(conn, self.prefix, agent_id, plan_id, limit)
        except psycopg.errors.UndefinedTable:
            return []

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()
