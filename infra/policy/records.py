"""Decisions and their inputs, written in the ledger's transaction and read back.

Every decision keeps its full input (by digest), so ``policy replay`` and audits can
re-evaluate it exactly; the decision rows double as the history rate limits count.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from psycopg.sql import SQL, Identifier

from infra.ledger.recorder import LedgerRecorder, SideWrite
from infra.policy.inputs import Activity, History, HistoryEntry, PolicyInput


@dataclass(frozen=True)
class DecisionRow:
    """One recorded decision with everything needed to re-evaluate it."""

    action_id: UUID
    agent_id: str
    resource_key: str
    action_type: str
    outcome: str
    reasons: list[dict[str, str]]
    bundle_digest: str
    bundle_version: str
    input_digest: str
    decided_at: datetime


MINUTE_MS, HOUR_MS = 60_000, 3_600_000


class DecisionRecords:
    """The ``<prefix>_decisions`` and ``<prefix>_policy_inputs`` tables of a ledger."""

    def __init__(self, recorder: LedgerRecorder) -> None:
        """Tables of ``recorder``'s ledger."""
        self._recorder = recorder
        decisions, inputs = recorder.table("decisions"), recorder.table("policy_inputs")
        self._insert_input = SQL(
            "INSERT INTO {0} (digest, input) VALUES (%s, %s) ON CONFLICT (digest) DO NOTHING"
        ).format(inputs)
        self._insert_decision = SQL(
            "INSERT INTO {0} (action_id, agent_id, resource_key, action_type, outcome, reasons,"
            " bundle_digest, bundle_version, input_digest, decided_at, at_ms)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        ).format(decisions)
        self._activity = {
            column: (
                SQL(
                    "SELECT {1} AS key, count(*) FILTER (WHERE at_ms >= %s) AS last_minute,"
                    " count(*) AS last_hour FROM {0} WHERE {1} = ANY(%s) AND at_ms >= %s"
                    " GROUP BY {1}"
                ).format(decisions, Identifier(column)),
                SQL(
                    "SELECT k.key, d.* FROM unnest(%s::text[]) AS k(key) CROSS JOIN LATERAL"
                    " (SELECT agent_id, resource_key, action_type, outcome, at_ms FROM {0}"
                    " WHERE {1} = k.key AND at_ms >= %s ORDER BY at_ms DESC LIMIT %s) AS d"
                ).format(decisions, Identifier(column)),
            )
            for column in ("agent_id", "resource_key")
        }
        self._touched = SQL(
            "SELECT DISTINCT p.agent_id, p.resource_key FROM unnest(%s::text[], %s::text[])"
            " AS p(agent_id, resource_key) WHERE EXISTS (SELECT 1 FROM {0} d"
            " WHERE d.agent_id = p.agent_id AND d.resource_key = p.resource_key"
            " AND d.outcome <> 'deny')"
        ).format(decisions)
        select = (
            "SELECT d.action_id, d.agent_id, d.resource_key, d.action_type, d.outcome, d.reasons,"
            " d.bundle_digest, d.bundle_version, d.input_digest, d.decided_at, i.input"
            " FROM {0} d JOIN {1} i ON i.digest = d.input_digest"
        )
        self._one = SQL(select + " WHERE d.action_id = %s").format(decisions, inputs)
        self._all = SQL(select + " ORDER BY d.at_ms, d.action_id").format(decisions, inputs)

    def writes(self, decided: Iterable[tuple[DecisionRow, PolicyInput]]) -> list[SideWrite]:
        """Side writes recording ``decided`` (rows and their inputs) with the events."""
        rows = list(decided)
        inputs = {policy_input.digest: policy_input.text for _, policy_input in rows}
        return [
            SideWrite(self._insert_input, many=sorted(inputs.items())),
            SideWrite(self._insert_decision, many=[_params(row) for row, _ in rows]),
        ]

    def history(
        self, agents: set[str], pairs: set[tuple[str, str]], *, now_ms: int, limit: int
    ) -> History:
        """Counts per minute and hour and the newest decisions, per agent and per resource."""
        history = History()
        keys = {"agent_id": sorted(agents), "resource_key": sorted({r for _, r in pairs})}
        targets = {"agent_id": history.by_agent, "resource_key": history.by_resource}
        hour, minute = now_ms - HOUR_MS, now_ms - MINUTE_MS
        ordered = sorted(pairs)
        with self._recorder.datastore.get_connection() as conn, conn.pipeline():
            # One round trip: every query is sent before the first result is read.
            counted = {
                column: conn.execute(counts, (minute, keys[column], hour))
                for column, (counts, _) in self._activity.items()
            }
            listed = {
                column: conn.execute(newest, (keys[column], hour, limit))
                for column, (_, newest) in self._activity.items()
                if limit
            }
            touched = conn.execute(
                self._touched, ([a for a, _ in ordered], [r for _, r in ordered])
            )
            for column, cursor in counted.items():
                for row in cursor.fetchall():
                    targets[column][row["key"]] = Activity(row["last_minute"], row["last_hour"])
            for column, cursor in listed.items():
                for row in cursor.fetchall():
                    targets[column].setdefault(row["key"], Activity()).recent.append(_entry(row))
            history.touched = {(row["agent_id"], row["resource_key"]) for row in touched.fetchall()}
        return history

    def decision(self, action_id: UUID) -> tuple[DecisionRow, PolicyInput] | None:
        """The recorded decision on ``action_id`` and its exact input, if it was decided."""
        with self._recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(self._one, (action_id,))
            row = cursor.fetchone()
        return None if row is None else _decided(row)

    def all(self) -> Iterator[tuple[DecisionRow, PolicyInput]]:
        """Every recorded decision with its input, oldest first (streamed)."""
        with (
            self._recorder.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor(name="decisions") as cursor,
        ):
            cursor.itersize = 2000
            cursor.execute(self._all)
            for row in cursor:
                yield _decided(row)


def _params(row: DecisionRow) -> tuple[object, ...]:
    return (
        row.action_id, row.agent_id, row.resource_key, row.action_type, row.outcome,
        json.dumps(row.reasons), row.bundle_digest, row.bundle_version, row.input_digest,
        row.decided_at, int(row.decided_at.timestamp() * 1000),
    )  # fmt: skip


def _entry(row: dict[str, object]) -> HistoryEntry:
    return HistoryEntry(
        at_ms=int(str(row["at_ms"])), agent_id=str(row["agent_id"]),
        resource_key=str(row["resource_key"]), action_type=str(row["action_type"]),
        outcome=str(row["outcome"]),
    )  # fmt: skip


def _decided(row: dict[str, object]) -> tuple[DecisionRow, PolicyInput]:
    decision = DecisionRow(
        action_id=row["action_id"], agent_id=str(row["agent_id"]),  # type: ignore[arg-type]  # uuid column
        resource_key=str(row["resource_key"]), action_type=str(row["action_type"]),
        outcome=str(row["outcome"]), reasons=json.loads(str(row["reasons"])),
        bundle_digest=str(row["bundle_digest"]), bundle_version=str(row["bundle_version"]),
        input_digest=str(row["input_digest"]), decided_at=row["decided_at"],  # type: ignore[arg-type]  # timestamptz column
    )  # fmt: skip
    return decision, PolicyInput.from_text(str(row["input"]))
