"""Executions in flight or waiting for a retry, kept in step with the events.

``ExecutionStarted`` opens a row, ``MutationFailed`` (retryable) schedules it,
``ExecutionDeferred`` parks it until a kill switch or stop lifts, and the end of the
execution (applied, final failure, revocation) removes it. After a
crash the executor re-drives exactly these rows, with their recorded idempotency key
and expected version.
"""

from __future__ import annotations

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
    DomainEvent,
    ExecutionDeferred,
    ExecutionStarted,
    MutationApplied,
    MutationFailed,
    Revoked,
)
from infra.ledger.recorder import LedgerRecorder, SideWrite


@dataclass(frozen=True)
class ExecutionRow:
    """One execution that has not ended."""

    action_id: UUID
    resource_key: str
    state: str
    """``executing`` (the connector may or may not have applied it), ``retry`` or ``held``."""
    attempt: int
    idempotency_key: str
    expected_version: str | None
    executor: str
    due_at: datetime | None


ENDING = (
    MutationApplied, MutationFailed, Revoked, ApprovalRequested, ApprovalExpired, ApprovalRejected,
)  # fmt: skip
"""Records after which an action is not executing, retrying or held (a failure ends the
row when final; a review request sends the action back to its approvers)."""


class ExecutionIndex:
    """The ``<prefix>_executions`` table: side writes for new events, and its queries."""

    def __init__(self, recorder: LedgerRecorder) -> None:
        """The table of ``recorder``'s ledger."""
        self._recorder = recorder
        table = recorder.table("executions")
        self._start = SQL(
            "INSERT INTO {0} (action_id, resource_key, state, attempt, idempotency_key,"
            " expected_version, executor) VALUES (%s, %s, 'executing', %s, %s, %s, %s)"
            " ON CONFLICT (action_id) DO UPDATE SET state = 'executing',"
            " attempt = EXCLUDED.attempt, expected_version = EXCLUDED.expected_version,"
            " executor = EXCLUDED.executor, due_at = NULL"
        ).format(table)
        self._retry = SQL(
            "UPDATE {0} SET state = 'retry', due_at = %s WHERE action_id = %s"
        ).format(table)
        self._hold = SQL(
            "INSERT INTO {0} (action_id, resource_key, state, attempt, idempotency_key,"
            " executor) VALUES (%s, %s, 'held', 0, %s, '')"
            " ON CONFLICT (action_id) DO UPDATE SET state = 'held', due_at = NULL"
        ).format(table)
        self._end = SQL("DELETE FROM {0} WHERE action_id = %s").format(table)
        self._select = SQL("SELECT * FROM {0}").format(table)

    def side_writes(self, _: Any, record: DomainEvent) -> list[SideWrite]:  # noqa: ANN401  # an Action
        """The table changes ``record`` makes."""
        if isinstance(record, ExecutionStarted):
            params = (
                record.action_id, record.resource.key, record.attempt, record.idempotency_key,
                record.expected_version, record.executor,
            )  # fmt: skip
            return [SideWrite(self._start, params)]
        if isinstance(record, ExecutionDeferred):
            held = (record.action_id, record.resource.key, str(record.action_id))
            return [SideWrite(self._hold, held)]
        if isinstance(record, MutationFailed) and record.retryable:
            return [SideWrite(self._retry, (record.next_attempt_at, record.action_id))]
        if isinstance(record, ENDING):
            return [SideWrite(self._end, (record.action_id,))]
        return []

    def in_flight(self) -> list[ExecutionRow]:
        """Executions that started and never recorded an outcome."""
        return self._query(SQL("{0} WHERE state = 'executing'").format(self._select), ())

    def due_retries(self, now: datetime, limit: int = 100) -> list[ExecutionRow]:
        """Retries whose backoff has elapsed at ``now``, earliest first."""
        query = SQL("{0} WHERE state = 'retry' AND due_at <= %s ORDER BY due_at LIMIT %s").format(
            self._select
        )
        return self._query(query, (now, limit))

    def held(self, after: UUID | None = None, limit: int = 200) -> list[ExecutionRow]:
        """Actions waiting for a kill switch or the emergency stop to lift, after ``after``.

        Paged by action id, so that every waiting action is looked at in turn, however
        many one agent has.
        """
        query = SQL(
            "{0} WHERE state = 'held' AND action_id > %s ORDER BY action_id LIMIT %s"
        ).format(self._select)
        return self._query(query, (after or UUID(int=0), limit))

    def _query(self, query: Composed, params: tuple[Any, ...]) -> list[ExecutionRow]:
        with self._recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.row_factory = dict_row
            cursor.execute(query, params)
            return [ExecutionRow(**row) for row in cursor.fetchall()]
