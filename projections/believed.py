"""Believed state: what our own executions say each resource looks like.

Per resource and field, the value the last applied action set (and which action), plus
the changes authorized but not applied yet. Built from ``actions.v1``.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg.sql import SQL, Composed

from domain.events import (
    ApprovalExpired,
    Authorized,
    MutationApplied,
    MutationFailed,
    Revoked,
)
from domain.values import Record
from projections.store import Tables, canonical


class BelievedState:
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

    def apply(self, cur: psycopg.Cursor[Any], t: Tables, record: Record) -> None:
        """Authorized opens a pending change; applied makes it believed; an end drops it."""
        pending = t("believed_pending")
        if isinstance(record, Authorized):
            cur.execute(
                SQL(
                    "INSERT INTO {0} (action_id, resource_key, fields, authorized_at)"
                    " VALUES (%s, %s, %s::jsonb, %s) ON CONFLICT (action_id) DO NOTHING"
                ).format(pending),
                (record.action_id, record.resource.key, canonical(record.parameters),
                 record.metadata.occurred_at),
            )  # fmt: skip
        elif isinstance(record, MutationApplied):
            cur.execute(
                SQL("DELETE FROM {0} WHERE action_id = %s RETURNING fields").format(pending),
                (record.action_id,),
            )
            row = cur.fetchone()
            fields = row[0] if row else json.loads(canonical(record.applied_fields))
            cur.executemany(
                SQL(
                    "INSERT INTO {0} (resource_key, field, value, action_id, external_version,"
                    " applied_at) VALUES (%s, %s, %s::jsonb, %s, %s, %s)"
                    " ON CONFLICT (resource_key, field) DO UPDATE SET value = EXCLUDED.value,"
                    " action_id = EXCLUDED.action_id,"
                    " external_version = EXCLUDED.external_version,"
                    " applied_at = EXCLUDED.applied_at"
                ).format(t("believed_fields")),
                [(record.resource.key, field, canonical(value), record.action_id,
                  record.external_version, record.metadata.occurred_at)
                 for field, value in sorted(fields.items())],
            )  # fmt: skip
        elif isinstance(record, Revoked | ApprovalExpired) or (
            isinstance(record, MutationFailed) and not record.retryable
        ):
            cur.execute(
                SQL("DELETE FROM {0} WHERE action_id = %s").format(pending), (record.action_id,)
            )


def believed_state(conn: psycopg.Connection[Any], prefix: str, resource_key: str) -> dict[str, Any]:
    """Field → (value, action id) as our applied actions left the resource."""
    rows = conn.execute(
        SQL("SELECT field, value, action_id FROM {0} WHERE resource_key = %s").format(
            Tables(prefix)("believed_fields")
        ),
        (resource_key,),
    ).fetchall()
    return {field: (value, action) for field, value, action in rows}
