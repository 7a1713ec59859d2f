"""Actual state: what each external system shows, per resource and field.

Built from ``ExternalStateObserved`` on ``observations.v1``. An observation older than
the one already applied (a lower change sequence of the same source) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.sql import SQL, Composed

from domain.events import ExternalStateObserved
from domain.values import Record
from projections.store import Tables, canonical


class ActualState:
    """The ``actual_resources`` and ``actual_fields`` tables."""

    name: str = "actual"
    topics: tuple[str, ...] = ("observations.v1",)
    tables: tuple[str, ...] = ("actual_resources", "actual_fields")

    def create(self, t: Tables) -> list[Composed]:
        """One row per resource (version, observed-at), one per field (its value)."""
        return [
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (resource_key text PRIMARY KEY,"
                " source text NOT NULL, external_version text NOT NULL,"
                " change_sequence bigint NOT NULL,"
                " deleted boolean NOT NULL, observed_at timestamptz NOT NULL)"
            ).format(t("actual_resources")),
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (resource_key text NOT NULL, field text NOT NULL,"
                " value jsonb, external_version text NOT NULL, observed_at timestamptz NOT NULL,"
                " PRIMARY KEY (resource_key, field))"
            ).format(t("actual_fields")),
        ]

    def apply(self, cur: psycopg.Cursor[Any], t: Tables, record: Record) -> None:
        """Replace the resource's fields with what the observation shows."""
        if not isinstance(record, ExternalStateObserved):
            return
        key = record.resource.key
        cur.execute(
            SQL(
                "INSERT INTO {0} AS r (resource_key, source, external_version, change_sequence,"
                " deleted, observed_at) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (resource_key) DO UPDATE SET source = EXCLUDED.source,"
                " external_version = EXCLUDED.external_version,"
                " change_sequence = EXCLUDED.change_sequence, deleted = EXCLUDED.deleted,"
                " observed_at = EXCLUDED.observed_at"
                " WHERE r.source <> EXCLUDED.source OR r.change_sequence < EXCLUDED.change_sequence"
                " RETURNING 1"
            ).format(t("actual_resources")),
            (key, record.source, record.external_version, record.change_sequence,
             record.deleted, record.observed_at),
        )  # fmt: skip
        if cur.fetchone() is None:
            return
        cur.execute(
            SQL("DELETE FROM {0} WHERE resource_key = %s").format(t("actual_fields")), (key,)
        )
        cur.executemany(
            SQL(
                "INSERT INTO {0} (resource_key, field, value, external_version, observed_at)"
                " VALUES (%s, %s, %s::jsonb, %s, %s)"
            ).format(t("actual_fields")),
            [(key, field, canonical(value), record.external_version, record.observed_at)
             for field, value in sorted(record.fields.items())],
        )  # fmt: skip


@dataclass(frozen=True)
class Actual:
    """A resource as last observed."""

    resource_key: str
    external_version: str
    deleted: bool
    observed_at: datetime
    fields: dict[str, Any]


def actual_state(conn: psycopg.Connection[Any], prefix: str, resource_key: str) -> Actual | None:
    """The resource as last observed, or ``None`` if it was never observed."""
    t = Tables(prefix)
    row = conn.execute(
        SQL(
            "SELECT external_version, deleted, observed_at FROM {0} WHERE resource_key = %s"
        ).format(t("actual_resources")),
        (resource_key,),
    ).fetchone()
    if row is None:
        return None
    fields = conn.execute(
        SQL("SELECT field, value FROM {0} WHERE resource_key = %s").format(t("actual_fields")),
        (resource_key,),
    ).fetchall()
    return Actual(resource_key, row[0], row[1], row[2], dict(fields))
