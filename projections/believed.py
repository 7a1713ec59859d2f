"""Believed state: what our own executions say each resource looks like.

Per resource and field, the value the last applied action set (and which action), plus
the changes authorized but not applied yet. Built from ``actions.v1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.sql import SQL, Composed

from domain.events import (
    ApprovalExpired,
    ApprovalRejected,
    ApprovalRequested,
    Authorized,
    MutationApplied,
    MutationFailed,
    Revoked,
)
from domain.values import Record
from projections.store import EveryRecordCounts, Tables, canonical

ENDS = (ApprovalRequested, ApprovalRejected, ApprovalExpired, Revoked, MutationFailed)
"""After these an action is not authorized-and-waiting (a retryable failure excepted):
a request for review takes the authorization back until approvers grant it again."""


class BelievedState(EveryRecordCounts):
    """The ``believed_fields`` and ``believed_pending`` tables."""

    name: str = "believed"
    topics: tuple[str, ...] = ("actions.v1",)
    tables: tuple[str, ...] = ("believed_fields", "believed_pending")

    def create(self, t: Tables) -> list[Composed]:
        """Applied values per field; authorized changes waiting to be applied."""
        return [
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (resource_key text NOT NULL, field text NOT NULL,"
                " value jsonb, action_id uuid NOT NULL, external_version text NOT NULL,"
                " applied_at timestamptz NOT NULL, PRIMARY KEY (resource_key, field))"
            ).format(t("believed_fields")),
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (action_id uuid PRIMARY KEY,"
                " resource_key text NOT NULL, fields jsonb NOT NULL,"
                " authorized_at timestamptz NOT NULL)"
            ).format(t("believed_pending")),
        ]

    def apply(self, cur: psycopg.Cursor[Any], t: Tables, records: Sequence[Record]) -> None:
        """Authorized opens a pending change; applied makes it believed; an end drops it.

        The batch is folded in order: an applied change takes the fields of the action's
        pending authorization at that point (the batch's, else the stored row's), or the
        applied fields if none was pending. Every action the batch touched loses its
        stored row; those still pending at the end of the batch are written again.
        """
        pending: dict[UUID, Authorized | None] = {}  # None: not pending after that record
        applied: list[tuple[MutationApplied, Authorized | None, bool]] = []
        for record in records:
            if isinstance(record, Authorized):
                pending[record.action_id] = record
            elif isinstance(record, MutationApplied):
                aid = record.action_id
                applied.append((record, pending.get(aid), aid not in pending))
                pending[aid] = None
            elif isinstance(record, ENDS) and not (
                isinstance(record, MutationFailed) and record.retryable
            ):
                pending[record.action_id] = None
        stored = self._close(cur, t, sorted(pending))  # as pending before the batch
        believed: dict[tuple[str, str], tuple[str, UUID, str, datetime]] = {}
        for record, source, as_stored in applied:
            fields = (
                dict(source.parameters) if source is not None
                else stored.get(record.action_id, record.applied_fields) if as_stored
                else record.applied_fields
            )  # fmt: skip
            for field, value in fields.items():
                believed[(record.resource.key, field)] = (
                    canonical(value), record.action_id, record.external_version,
                    record.metadata.occurred_at,
                )  # fmt: skip
        still_open = [r for r in pending.values() if r is not None]
        if still_open:
            cur.execute(
                SQL(
                    "INSERT INTO {0} (action_id, resource_key, fields, authorized_at)"
                    " SELECT * FROM unnest(%b::uuid[], %b::text[], %b::jsonb[],"
                    " %b::timestamptz[])"
                ).format(t("believed_pending")),
                ([r.action_id for r in still_open], [r.resource.key for r in still_open],
                 [canonical(r.parameters) for r in still_open],
                 [r.metadata.occurred_at for r in still_open]),
            )  # fmt: skip
        if believed:
            keys = sorted(believed)
            cur.execute(
                SQL(
                    "INSERT INTO {0} (resource_key, field, value, action_id, external_version,"
                    " applied_at) SELECT * FROM unnest(%b::text[], %b::text[], %b::jsonb[],"
                    " %b::uuid[], %b::text[], %b::timestamptz[])"
                    " ON CONFLICT (resource_key, field) DO UPDATE SET value = EXCLUDED.value,"
                    " action_id = EXCLUDED.action_id,"
                    " external_version = EXCLUDED.external_version,"
                    " applied_at = EXCLUDED.applied_at"
                ).format(t("believed_fields")),
                ([k for k, _ in keys], [f for _, f in keys],
                 *(list(column) for column in zip(*(believed[k] for k in keys), strict=True))),
            )  # fmt: skip

    def _close(self, cur: psycopg.Cursor[Any], t: Tables, ids: list[UUID]) -> dict[UUID, Any]:
        """Drop the pending rows of the actions the batch touched; their fields, by action."""
        if not ids:
            return {}
        cur.execute(
            SQL("DELETE FROM {0} WHERE action_id = ANY(%s) RETURNING action_id, fields").format(
                t("believed_pending")
            ),
            (ids,),
        )
        return dict(cur.fetchall())


def believed_state(conn: psycopg.Connection[Any], prefix: str, resource_key: str) -> dict[str, Any]:
    """Field → (value, action id) as our applied actions left the resource."""
    rows = conn.execute(
        SQL("SELECT field, value, action_id FROM {0} WHERE resource_key = %s").format(
            Tables(prefix)("believed_fields")
        ),
        (resource_key,),
    ).fetchall()
    return {field: (value, action) for field, value, action in rows}
