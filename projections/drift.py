"""The drift view: every alert from ``drift.v1``, open or resolved, with its history.

An alert id and the ids of its events are deterministic, so a duplicate (the
reconciler sends an alert again after a crash) changes nothing here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.sql import SQL, Composed

from domain.events import DriftDetected, DriftResolved
from domain.values import Record
from projections.store import EveryRecordCounts, Tables, canonical


class DriftView(EveryRecordCounts):
    """The ``drift_alerts`` and ``drift_history`` tables."""

    name: str = "drift"
    topics: tuple[str, ...] = ("drift.v1",)
    tables: tuple[str, ...] = ("drift_alerts", "drift_history")

    def create(self, t: Tables) -> list[Composed]:
        """One row per alert (its latest state); one per alert event."""
        return [
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (alert_id text PRIMARY KEY,"
                " resource_key text NOT NULL, system text NOT NULL, drift_class text NOT NULL,"
                " severity text NOT NULL, fields jsonb NOT NULL, contradicts jsonb NOT NULL,"
                " explanation text NOT NULL, detected_at timestamptz NOT NULL,"
                " resolved_at timestamptz, resolution text, resolved_by text)"
            ).format(t("drift_alerts")),
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (event_id uuid PRIMARY KEY,"
                " alert_id text NOT NULL, kind text NOT NULL, at timestamptz NOT NULL,"
                " detail text NOT NULL)"
            ).format(t("drift_history")),
        ]

    def apply(self, cur: psycopg.Cursor[Any], t: Tables, records: Sequence[Record]) -> None:
        """Open alerts once, close them once, log each distinct event once, in order.

        An alert is opened by its first detection and closed by the first resolution
        after it; a resolution of an alert not open yet changes nothing.
        """
        events = [r for r in records if isinstance(r, DriftDetected | DriftResolved)]
        if not events:
            return
        touched = sorted({e.alert_id for e in events})
        cur.execute(
            SQL("SELECT alert_id, resolved_at IS NULL FROM {0} WHERE alert_id = ANY(%s)").format(
                t("drift_alerts")
            ),
            (touched,),
        )
        is_open: dict[str, bool] = dict(cur.fetchall())
        detected: dict[str, DriftDetected] = {}
        resolved: dict[str, DriftResolved] = {}
        for e in events:
            if isinstance(e, DriftDetected) and e.alert_id not in is_open:
                detected[e.alert_id], is_open[e.alert_id] = e, True
            elif isinstance(e, DriftResolved) and is_open.get(e.alert_id):
                resolved[e.alert_id], is_open[e.alert_id] = e, False
        if detected:
            rows = list(detected.values())
            cur.execute(
                SQL(
                    "INSERT INTO {0} (alert_id, resource_key, system, drift_class, severity,"
                    " fields, contradicts, explanation, detected_at)"
                    " SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[],"
                    " %b::text[], %b::jsonb[], %b::jsonb[], %b::text[], %b::timestamptz[])"
                ).format(t("drift_alerts")),
                (
                    [r.alert_id for r in rows], [r.resource.key for r in rows],
                    [r.resource.system for r in rows], [r.drift_class.value for r in rows],
                    [r.severity.value for r in rows],
                    [canonical([f.model_dump(mode="json") for f in r.fields]) for r in rows],
                    [canonical(r.contradicts) for r in rows], [r.explanation for r in rows],
                    [r.metadata.occurred_at for r in rows],
                ),
            )  # fmt: skip
        if resolved:
            rows_r = list(resolved.values())
            cur.execute(
                SQL(
                    "UPDATE {0} AS a SET resolved_at = r.at, resolution = r.resolution,"
                    " resolved_by = r.by FROM unnest(%b::text[], %b::timestamptz[], %b::text[],"
                    " %b::text[]) AS r(alert_id, at, resolution, by)"
                    " WHERE a.alert_id = r.alert_id"
                ).format(t("drift_alerts")),
                (
                    [r.alert_id for r in rows_r], [r.metadata.occurred_at for r in rows_r],
                    [r.resolution for r in rows_r], [r.resolved_by_event_id for r in rows_r],
                ),
            )  # fmt: skip
        cur.execute(
            SQL(
                "INSERT INTO {0} (event_id, alert_id, kind, at, detail)"
                " SELECT * FROM unnest(%b::uuid[], %b::text[], %b::text[],"
                " %b::timestamptz[], %b::text[]) ON CONFLICT (event_id) DO NOTHING"
            ).format(t("drift_history")),
            (
                [e.metadata.event_id for e in events], [e.alert_id for e in events],
                ["detected" if isinstance(e, DriftDetected) else "resolved" for e in events],
                [e.metadata.occurred_at for e in events],
                [e.explanation if isinstance(e, DriftDetected) else e.resolution
                 for e in events],
            ),
        )  # fmt: skip


@dataclass(frozen=True)
class DriftRow:
    """One alert as the drift view holds it."""

    alert_id: str
    resource_key: str
    system: str
    drift_class: str
    severity: str
    fields: list[dict[str, Any]]
    contradicts: list[str]
    explanation: str
    detected_at: datetime
    resolved_at: datetime | None
    resolution: str | None


def drift_alerts(  # noqa: PLR0913  # every filter the CLI offers
    conn: psycopg.Connection[Any],
    prefix: str,
    *,
    status: str = "open",
    system: str | None = None,
    drift_class: str | None = None,
    severity: str | None = None,
) -> list[DriftRow]:
    """Alerts (``open``, ``resolved`` or ``all``), oldest first, filtered as asked."""
    where = {"open": "resolved_at IS NULL", "resolved": "resolved_at IS NOT NULL"}.get(
        status, "TRUE"
    )
    rows = conn.execute(
        SQL(
            "SELECT alert_id, resource_key, system, drift_class, severity, fields, contradicts,"
            " explanation, detected_at, resolved_at, resolution FROM {0}"
            " WHERE {1} AND (%(system)s::text IS NULL OR system = %(system)s)"
            " AND (%(cls)s::text IS NULL OR drift_class = %(cls)s)"
            " AND (%(sev)s::text IS NULL OR severity = %(sev)s)"
            " ORDER BY detected_at, alert_id"
        ).format(Tables(prefix)("drift_alerts"), SQL(where)),  # a fixed clause
        {"system": system, "cls": drift_class, "sev": severity},
    ).fetchall()
    return [DriftRow(*row) for row in rows]


def open_counts(conn: psycopg.Connection[Any], prefix: str) -> list[tuple[str, str, int]]:
    """(class, severity, how many) of the open alerts."""
    rows = conn.execute(
        SQL(
            "SELECT drift_class, severity, count(*) FROM {0} WHERE resolved_at IS NULL"
            " GROUP BY drift_class, severity"
        ).format(Tables(prefix)("drift_alerts"))
    ).fetchall()
    return [(str(cls), str(severity), int(count)) for cls, severity, count in rows]
