"""Where projections live: their PostgreSQL tables, tracking rows, and blue/green rebuilds.

Every batch a projection applies commits together with its tracking rows
``(projection, topic, partition, next_offset)``: a record at an offset below the
tracked one was applied already and is skipped, so redelivery has no second effect.
A rebuild writes into ``<table>__build`` tables and swaps them in with renames in one
transaction: readers see the old view or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import psycopg
from psycopg.sql import SQL, Composed, Identifier

from domain.values import Record
from infra.serde.decoded import Decoded
from infra.serde.topic_serde import TopicSerde

BUILD = "__build"


@dataclass(frozen=True)
class Position:
    """Where a record was read: topic (unprefixed name), partition, offset."""

    topic: str
    partition: int
    offset: int


class Tables:
    """Table names of one projection set: live, or the build copies of a rebuild."""

    def __init__(self, prefix: str, *, build: bool = False) -> None:
        """Names ``<prefix>_<name>`` (``…__build`` while rebuilding).

        A prefix may name its schema (``views.ledger_view``): readers then find the tables
        by their qualified names, never through their search path.
        """
        self.prefix, self.build = prefix, build

    def __call__(self, name: str) -> Identifier:
        """The table called ``name``."""
        return qualified(self.prefix, f"{name}{BUILD if self.build else ''}")


def qualified(prefix: str, name: str) -> Identifier:
    """Table ``<prefix>_<name>``, in the schema ``prefix`` names if it names one."""
    schema, _, bare = prefix.rpartition(".")
    return Identifier(schema, f"{bare}_{name}") if schema else Identifier(f"{bare}_{name}")


class Reducer(Protocol):
    """What a rebuild holds of the records it has read, until it writes them.

    Applying what :meth:`drain` returns must change the tables exactly as applying every
    valid record added would: a projection whose ``apply`` keeps only the newest state
    per key drops older records as they come, so a rebuild holds (and frees) far less,
    and validates only the records it keeps.
    """

    def add(self, item: Decoded) -> None:
        """Hold ``item`` (the next one read), or what of it the projection needs.

        Raises the item's :class:`BadRecord` if it needs the record and it is invalid.
        """
        ...

    def __len__(self) -> int:
        """Records held."""
        ...

    def drain(self) -> Sequence[Record]:
        """The records to apply, in order; the reducer is empty afterwards.

        Raises :class:`UnusableRecord` if a record it held unvalidated turns out invalid:
        the valid record it then needed instead was dropped (the rebuild starts again,
        validating every record as it reads it).
        """
        ...


@runtime_checkable
class TakesPayloads(Protocol):
    """A reducer that takes a run of its one topic's payloads in one call.

    What it takes must change it exactly as :meth:`Reducer.add` of each payload's decoded
    record would: it stops at the first payload it cannot take that way (a bad one, or a
    record it does not know) and leaves that one to ``add``.
    """

    def add_payloads(self, serde: TopicSerde, payloads: list[bytes | None], start: int) -> int:
        """Take ``payloads[start:]`` (``None``: not a record) up to the first it cannot.

        Returns that one's index, ``len(payloads)`` if it took them all; every one it took
        is a record read.
        """
        ...


class UnusableRecord(Exception):
    """A reducer held a record unvalidated in place of older ones, and it is invalid."""


class KeepAll:
    """The reducer that holds every record (for projections whose every record counts)."""

    def __init__(self) -> None:
        """Empty."""
        self._held: list[Record] = []

    def add(self, item: Decoded) -> None:
        """Hold ``item``'s record (validated now)."""
        self._held.append(item.record())

    def __len__(self) -> int:
        """Records held."""
        return len(self._held)

    def drain(self) -> list[Record]:
        """Every record held, in order."""
        held, self._held = self._held, []
        return held


class EveryRecordCounts:
    """For projections whose every record counts: a rebuild holds all it reads."""

    def reducer(self) -> Reducer:
        """A :class:`KeepAll`."""
        return KeepAll()


class Projection(Protocol):
    """A read model: its tables, how records change them, and its rows for digests."""

    name: str
    topics: tuple[str, ...]
    tables: tuple[str, ...]
    """Its table names, the first column(s) of each being its primary key."""

    def create(self, t: Tables) -> list[Composed]:
        """CREATE TABLE statements (``IF NOT EXISTS``)."""
        ...

    def apply(self, cur: psycopg.Cursor[Any], t: Tables, records: Sequence[Record]) -> None:
        """Change the tables for ``records`` (in order), as few statements as it can."""
        ...

    def reducer(self) -> Reducer:
        """What a rebuild holds of the records between two writes (see :class:`Reducer`)."""
        ...


@runtime_checkable
class Fills(Protocol):
    """A projection that writes a rebuild's first batch into its empty tables its own way.

    ``fill`` must leave the tables as :meth:`Projection.apply` would from empty: it may
    only assume that nothing is there to conflict with (e.g. load with ``COPY``).
    """

    def fill(self, cur: psycopg.Cursor[Any], t: Tables, records: Sequence[Record]) -> None:
        """Write ``records`` (in order) into the empty tables ``t``."""
        ...


def canonical(value: object) -> str:
    """JSON with sorted keys, exact decimals as strings: the stored form of field values."""
    return _CANONICAL.encode(value)


_CANONICAL = json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":"))
"""What ``json.dumps`` with these arguments builds on every call (reused: it holds no state)."""


class ProjectionStore:
    """The projections of one ledger in one database."""

    def __init__(self, database_url: str, prefix: str) -> None:
        """Tables named ``<prefix>_…`` in the database at ``database_url``."""
        self.url, self.prefix = database_url, prefix
        self.tracking = qualified(prefix, "tracking")

    def ensure(
        self, projections: Iterable[Projection], t: Tables | None = None,
        conn: psycopg.Connection[Any] | None = None,
    ) -> None:  # fmt: skip
        """Create the tracking table and each projection's tables if missing.

        Through ``conn`` if given (in autocommit mode: each statement commits), else a new
        connection.
        """
        t = t or Tables(self.prefix)
        with self._connection(conn, autocommit=True) as using:
            using.execute("SELECT pg_advisory_lock(%s)", (0x61677072,))
            using.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0} (projection text NOT NULL, topic text NOT NULL,"
                    " partition integer NOT NULL, next_offset bigint NOT NULL,"
                    " PRIMARY KEY (projection, topic, partition))"
                ).format(self.tracking)
            )
            for projection in projections:
                for statement in projection.create(t):
                    using.execute(statement)
            using.execute("SELECT pg_advisory_unlock(%s)", (0x61677072,))

    def positions(self, projection: str) -> dict[tuple[str, int], int]:
        """Next offset per (topic, partition) the projection has applied up to."""
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(
                SQL("SELECT topic, partition, next_offset FROM {0} WHERE projection = %s").format(
                    self.tracking
                ),
                (projection,),
            ).fetchall()
        return {(topic, partition): offset for topic, partition, offset in rows}

    def apply(
        self,
        conn: psycopg.Connection[Any],
        projection: Projection,
        batch: Sequence[tuple[Position, Record]],
        *,
        passed: Sequence[Position] = (),
    ) -> int:
        """Apply ``batch`` and advance the tracking rows, in one transaction; records applied.

        The tracking rows also move past ``passed``: records read but not applied (the
        unreadable ones, dead-lettered).
        """
        t = Tables(self.prefix)
        with conn.transaction(), conn.cursor() as cur:
            done = self._locked_positions(cur, projection.name)
            last: dict[tuple[str, int], int] = {}
            fresh = []
            for position, record in [*batch, *((p, None) for p in passed)]:
                key = (position.topic, position.partition)
                if position.offset < done.get(key, 0):
                    continue
                if record is not None:
                    fresh.append(record)
                last[key] = max(last.get(key, -1), position.offset)
            if fresh:
                projection.apply(cur, t, fresh)
            if last:
                cur.executemany(
                    SQL(
                        "INSERT INTO {0} (projection, topic, partition, next_offset)"
                        " VALUES (%s, %s, %s, %s) ON CONFLICT (projection, topic, partition)"
                        " DO UPDATE SET next_offset = EXCLUDED.next_offset"
                    ).format(self.tracking),
                    [(projection.name, tp, p, off + 1) for (tp, p), off in last.items()],
                )
        return len(fresh)

    @staticmethod
    def load(
        conn: psycopg.Connection[Any], projection: Projection, records: Sequence[Record],
        t: Tables, *, empty: bool,
    ) -> None:  # fmt: skip
        """Apply ``records`` to the tables ``t`` in one transaction, untracked (a rebuild).

        Into ``empty`` tables a projection that :class:`Fills` them fills them instead.
        """
        if records:
            with conn.transaction(), conn.cursor() as cur:
                if empty and isinstance(projection, Fills):
                    projection.fill(cur, t, records)
                else:
                    projection.apply(cur, t, records)

    def _locked_positions(self, cur: psycopg.Cursor[Any], name: str) -> dict[tuple[str, int], int]:
        cur.execute(
            SQL(
                "SELECT topic, partition, next_offset FROM {0} WHERE projection = %s FOR UPDATE"
            ).format(self.tracking),
            (name,),
        )
        return {(topic, partition): offset for topic, partition, offset in cur.fetchall()}

    def digest(
        self, projection: Projection, t: Tables | None = None,
        conn: psycopg.Connection[Any] | None = None,
    ) -> str:  # fmt: skip
        """sha256 over every row of the projection's tables, as PostgreSQL's binary COPY.

        Rows come in primary-key order, columns in name order, each value in its type's
        binary send format: it depends on the value alone, not on session settings such
        as ``TimeZone`` (jsonb's is its canonical text: keys in one order, no duplicates,
        one spelling per value), so equal tables give equal digests. No row is turned
        into text for it (``to_jsonb`` text took twice as long). Read through ``conn``
        (e.g. a rebuild's, which sees its own writes) if given, else a new connection.
        """
        t = t or Tables(self.prefix)
        sha = hashlib.sha256()
        with self._connection(conn) as using, using.cursor() as cur:
            for table in projection.tables:
                sha.update(table.encode())
                columns, key = _columns(cur, t(table))
                query = SQL("COPY (SELECT {0} FROM {1} ORDER BY {2}) TO STDOUT (FORMAT binary)")
                with cur.copy(query.format(columns, t(table), key)) as copy:
                    for block in copy:
                        sha.update(block)
        return sha.hexdigest()

    def switch(
        self, projection: Projection, positions: dict[tuple[str, int], int],
        conn: psycopg.Connection[Any] | None = None,
    ) -> None:  # fmt: skip
        """Swap the build tables in for the live ones and set the tracking rows, atomically.

        Through ``conn`` if given (a rebuild's: then it commits with the rebuild's
        writes), else a new connection. Its commit waits for the WAL flush either way.
        """
        with self._connection(conn) as using, using.transaction():
            using.execute("SET LOCAL synchronous_commit TO on")
            for table in projection.tables:
                live = qualified(self.prefix, table)
                bare = f"{self.prefix.rpartition('.')[2]}_{table}"  # RENAME TO takes no schema
                using.execute(SQL("DROP TABLE IF EXISTS {0}").format(live))
                using.execute(
                    SQL("ALTER TABLE {0} RENAME TO {1}").format(
                        qualified(self.prefix, table + BUILD), Identifier(bare)
                    )
                )
                using.execute(
                    SQL("ALTER INDEX {0} RENAME TO {1}").format(
                        qualified(self.prefix, f"{table}{BUILD}_pkey"), Identifier(f"{bare}_pkey")
                    )
                )
            for index in getattr(projection, "indexes", ()):  # dropped with the live table
                named = f"{self.prefix.rpartition('.')[2]}_{index}"
                using.execute(
                    SQL("ALTER INDEX IF EXISTS {0} RENAME TO {1}").format(
                        qualified(self.prefix, index + BUILD), Identifier(named)
                    )
                )
            using.execute(
                SQL("DELETE FROM {0} WHERE projection = %s").format(self.tracking),
                (projection.name,),
            )
            with using.cursor() as cur:
                cur.executemany(
                    SQL(
                        "INSERT INTO {0} (projection, topic, partition, next_offset)"
                        " VALUES (%s, %s, %s, %s)"
                    ).format(self.tracking),
                    [(projection.name, tp, p, off) for (tp, p), off in positions.items()],
                )

    def _connection(
        self, conn: psycopg.Connection[Any] | None, *, autocommit: bool = False
    ) -> AbstractContextManager[psycopg.Connection[Any]]:
        """``conn`` (left open), or a new connection closed after use."""
        if conn is not None:
            return nullcontext(conn)
        return psycopg.connect(self.url, autocommit=autocommit)

    def drop_build(
        self, projection: Projection, conn: psycopg.Connection[Any] | None = None
    ) -> None:
        """Remove leftover build tables (an interrupted rebuild); through ``conn`` if given."""
        with self._connection(conn, autocommit=True) as using:
            for table in projection.tables:
                name = qualified(self.prefix, f"{table}{BUILD}")
                using.execute(SQL("DROP TABLE IF EXISTS {0}").format(name))


def _columns(cur: psycopg.Cursor[Any], table: Identifier) -> tuple[Composed, Composed]:
    """``table``'s columns in name order, and its primary key's columns in key order."""
    cur.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
        " AND NOT attisdropped ORDER BY attname",
        (table.as_string(cur),),
    )
    columns = [name for (name,) in cur.fetchall()]
    cur.execute(
        "SELECT a.attname FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS k(attnum, n),"
        " pg_attribute a WHERE i.indrelid = %s::regclass AND i.indisprimary"
        " AND a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n",
        (table.as_string(cur),),
    )
    key = [name for (name,) in cur.fetchall()] or columns  # no key: every column orders
    return SQL(", ").join(map(Identifier, columns)), SQL(", ").join(map(Identifier, key))
