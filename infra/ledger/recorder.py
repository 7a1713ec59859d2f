"""The ledger's recorder: eventsourcing's PostgreSQL recorder plus writes in the same transaction.

Consumers that act on Kafka records (the decider) must record their effect and the
Kafka position they reached atomically (DESIGN.md, delivery guarantees). A save may
carry ``side_writes``: statements run in the transaction that inserts the events.
A side write can demand that it changed a row; if it did not, the whole save is
refused with :class:`AlreadyProcessed` (the position was already past this batch).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification, ProgrammingError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Identifier, Literal

from infra.ledger.seal import LedgerSeal
from infra.ledger.side_tables import side_table_statements

DDL_LOCK = 0x61676C64  # "agld": serializes schema creation across processes
RENDERED_LIMIT = 256  # statements kept rendered; more would mean statements built per call


def insert_lock_key(table: str) -> int:
    """A stable 64-bit advisory lock key for inserting into ``table``."""
    return int.from_bytes(hashlib.sha256(f"insert:{table}".encode()).digest()[:8], signed=True)


class AlreadyProcessed(Exception):
    """A side write that must change a row changed none: this input was already applied."""


@dataclass(frozen=True)
class SideWrite:
    """One statement for the events' transaction.

    ``many`` runs it once per parameter set; ``must_change`` (a description) requires
    the statement to return a row, else the save fails with :class:`AlreadyProcessed`.
    """

    query: Composable
    params: Sequence[Any] | Mapping[str, Any] = ()
    many: Sequence[Sequence[Any]] | None = None
    must_change: str | None = None


class LedgerRecorder(PostgresApplicationRecorder):
    """Stores events (default insert mode) and the side writes a save carries.

    Every event is sealed as it is stored and checked as it is read (``seal``, set by the
    ledger before any read or write; :mod:`infra.ledger.seal`).
    """

    seal: LedgerSeal | None = None

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        """Also create the side tables named after the events table (``<prefix>_decisions``...)."""
        super().__init__(datastore, events_table_name=events_table_name)
        self.prefix = events_table_name.removesuffix("_events")
        self.sql_create_statements.extend(
            side_table_statements(datastore.schema or "public", self.prefix)
        )
        self._insert_columns = SQL(
            "INSERT INTO {0}.{1} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%b::{2}[], %b::bigint[], %b::text[], %b::bytea[])"
            " RETURNING notification_id"
        ).format(
            Identifier(datastore.schema or "public"),
            Identifier(events_table_name),
            Identifier(datastore.originator_id_type),
        )
        self._notify = SQL("NOTIFY {0}").format(Identifier(self.channel_name))
        # Writers queue on an advisory lock of the table, not on LOCK TABLE: EXCLUSIVE mode
        # needs UPDATE, DELETE or TRUNCATE on it, and no role that writes events has those.
        # The table's own insert trigger takes the same lock (infra.stack.ledger_tables).
        self.lock_table_statements = [
            self.lock_table_statements[0],  # eventsourcing's SET LOCAL lock_timeout
            SQL("SELECT pg_catalog.pg_advisory_xact_lock({0}::bigint)").format(
                Literal(insert_lock_key(events_table_name))
            ),
        ]
        self._rendered: dict[int, tuple[Composable, bytes]] = {}
        self._read_committed = SQL("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        """The controls check reads what committed while it waited for the lock."""
        self._controls_beyond = SQL(
            "SELECT c.subject FROM unnest(%s::text[], %s::bigint[]) AS r(subject, seen)"
            " JOIN {0} AS c ON c.subject = r.subject AND c.version > r.seen LIMIT 1"
        ).format(self.table("controls"))

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        """Create the tables under a lock: PostgreSQL fails concurrent ``IF NOT EXISTS`` DDL.

        A relay and a decider starting together both create the ledger's tables; without
        the lock one of them dies with "tuple concurrently updated".
        """
        curs.execute("SELECT pg_catalog.pg_advisory_xact_lock(%s::bigint)", (DDL_LOCK,))
        super()._create_table(curs)

    def select_newer(self, versions: Mapping[UUID, int]) -> list[StoredEvent]:
        """Events of many aggregates after the given versions, in one query (ordered)."""
        if not versions:
            return []
        ids = list(versions)
        statement = SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state"
            " FROM unnest(%s::uuid[], %s::bigint[]) AS c(id, version)"
            " JOIN {0}.{1} AS e ON e.originator_id = c.id AND e.originator_version > c.version"
            " ORDER BY e.originator_id, e.originator_version"
        ).format(Identifier(self.datastore.schema or "public"), Identifier(self.events_table_name))
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(statement, (ids, [versions[i] for i in ids]))
            return [
                self._sealing().open(StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"], state=bytes(row["state"]),
                ))
                for row in cursor.fetchall()
            ]  # fmt: skip

    def select_events(
        self, originator_id: UUID | str, *, gt: int | None = None, lte: int | None = None,
        desc: bool = False, limit: int | None = None,
    ) -> Sequence[StoredEvent]:  # fmt: skip
        """An aggregate's events, each checked against its seal (:class:`TamperedEvent` if not)."""
        found = super().select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        seal = self._sealing()
        return [seal.open(event) for event in found]

    def select_notifications(
        self, start: int | None, limit: int, stop: int | None = None,
        topics: Sequence[str] = (), *, inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:  # fmt: skip
        """Notifications as written; one that fails its seal is a ``TamperedNotification``."""
        found = super().select_notifications(
            start, limit, stop, topics, inclusive_of_start=inclusive_of_start
        )
        seal = self._sealing()
        return [seal.open_notification(notification) for notification in found]

    def notifications_head(self) -> int:
        """The last notification id the table's sequence handed out (0: none).

        A row numbered beyond it was not inserted through the sequence: put there by hand.
        """
        statement = SQL("SELECT pg_catalog.pg_sequence_last_value({0}::regclass)").format(
            Literal(
                f"{self.datastore.schema or 'public'}.{self.events_table_name}_notification_id_seq"
            )
        )
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(statement)
            row = cursor.fetchone()
        return int(row["pg_sequence_last_value"] or 0) if row is not None else 0

    def _sealing(self) -> LedgerSeal:
        if self.seal is None:
            raise RuntimeError("the ledger's recorder has no seal key: it may not read or write")
        return self.seal

    def table(self, suffix: str) -> Composable:
        """The qualified name of side table ``<prefix>_<suffix>``."""
        return SQL("{0}.{1}").format(
            Identifier(self.datastore.schema or "public"), Identifier(f"{self.prefix}_{suffix}")
        )

    def _insert_events(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,  # noqa: ANN401  # eventsourcing passes save() kwargs through
    ) -> None:
        # Every save takes the writers' lock first (one lock order: no deadlock between a
        # save's side writes and another's), and checks the controls it relied on before
        # any of its statements: eventsourcing commits what ran before a raise in the insert.
        curs.execute(self._render(curs, self._read_committed))
        self._lock_table(curs)
        self._check_controls(curs, kwargs.get("controls_seen") or {})
        for write in kwargs.get("side_writes", ()):
            if write.many is not None:
                if write.many:
                    curs.executemany(write.query, write.many)
                continue
            curs.execute(self._render(curs, write.query), write.params)
            if write.must_change is not None and curs.fetchone() is None:
                raise AlreadyProcessed(write.must_change)
        super()._insert_events(curs, stored_events, **kwargs)

    def _insert_stored_events(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        **_: Any,  # noqa: ANN401  # eventsourcing passes save() kwargs through
    ) -> None:
        """Insert as eventsourcing does (writers queued, channel notified, ids returned in order).

        The rows go as four arrays in binary, not as one array of composites: psycopg
        dumps composites as text, field by field in Python (about a tenth of a batch).
        """
        seal = self._sealing()
        self._lock_table(curs)
        curs.execute(self._render(curs, self._notify))
        curs.execute(
            self._render(curs, self._insert_columns),
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [seal.close(e).state for e in stored_events],
            ),
        )

    def _check_controls(self, curs: Cursor[DictRow], seen: Mapping[str, int]) -> None:
        """Refuse the save if a subject it relied on has a control beyond the version it read.

        Runs under the writers' lock, so nothing commits between this check and the insert:
        a control recorded before it is seen here, one recorded after it comes later in
        the notification order. It raises before any statement of the save ran, so the
        whole transaction is rolled back.
        """
        if not seen:
            return
        subjects = list(seen)
        curs.execute(
            self._render(curs, self._controls_beyond), (subjects, [seen[s] for s in subjects])
        )
        changed = curs.fetchone()
        if changed is not None:
            raise IntegrityError(f"a control of {changed['subject']} was recorded meanwhile")

    def _lock_table(self, curs: Cursor[DictRow]) -> None:
        for statement in self.lock_table_statements:
            if isinstance(statement, Composable):
                curs.execute(self._render(curs, statement), prepare=True)
            else:
                curs.execute(statement, prepare=True)

    def _fetch_ids_after_insert_events(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        **_: Any,  # noqa: ANN401  # eventsourcing passes save() kwargs through
    ) -> Sequence[int] | None:
        """The new notification ids, read straight off the result (no dict per row)."""
        result = curs.pgresult
        if result is None or result.ntuples != len(stored_events):
            got = 0 if result is None else result.ntuples
            wanted = len(stored_events)
            message = f"Couldn't get all notification IDs (got {got}, expected {wanted})"
            raise ProgrammingError(message)
        return [int(result.get_value(row, 0) or b"") for row in range(result.ntuples)]

    def _render(self, curs: Cursor[DictRow], statement: Composable) -> bytes:
        """``statement`` as bytes, rendered once: psycopg renders a Composed on every execute.

        Statements are the recorder's and the indexes' own, built once; the cache keeps
        each one alive beside its bytes, so an id is never mistaken for another's.
        """
        cached = self._rendered.get(id(statement))
        if cached is not None and cached[0] is statement:
            return cached[1]
        if len(self._rendered) >= RENDERED_LIMIT:
            self._rendered.clear()
        rendered = statement.as_bytes(curs)
        self._rendered[id(statement)] = (statement, rendered)
        return rendered
