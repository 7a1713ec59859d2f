"""The ``billing`` system of record: versioned records in a PostgreSQL database of its own.

Resources are ``billing/<type>/<id>`` rows of one ``records`` table (schema and triggers
in :mod:`infra.connectors.postgres_schema`, made by the billing system's deployment).
Versions are the row's ``version`` as a string; decimals are stored as strings
(:mod:`infra.connectors.values`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from domain.values import ResourceRef, Value
from infra.connectors.base import (
    Applied,
    Change,
    ConnectorUnavailable,
    Mutation,
    MutationRefused,
    Snapshot,
    VersionConflict,
)
from infra.connectors.postgres_idempotency import fingerprint, remember, replay
from infra.connectors.postgres_writes import write
from infra.connectors.values import dumps, fields_of

SYSTEM = "billing"
Conn = psycopg.Connection[TupleRow]


class PostgresSystemOfRecord:
    """The :class:`~infra.connectors.base.Connector` of the ``billing`` system."""

    def __init__(self, url: str, *, pool_size: int = 4, timeout_s: float = 10.0) -> None:
        """Connect lazily to ``url``; ``timeout_s`` bounds the wait for a pooled connection."""
        self._pool = ConnectionPool(
            url, min_size=1, max_size=pool_size, open=False, timeout=timeout_s, name=SYSTEM,
            kwargs={"autocommit": True, "connect_timeout": 5},
            check=ConnectionPool.check_connection,
        )  # fmt: skip

    @property
    def system(self) -> str:
        """``billing``."""
        return SYSTEM

    def apply(
        self, mutation: Mutation, idempotency_key: str, expected_version: str | None
    ) -> Applied:
        """One transaction: replay a known key, or check the version, write and remember."""
        ref = _own(mutation.resource)
        with self._connection() as conn, conn.transaction():
            conn.execute("SELECT records_feed_lock()")
            replayed = replay(conn, idempotency_key, fingerprint(mutation))
            if replayed is not None:
                return replayed
            found = conn.execute(
                "SELECT version, deleted FROM records WHERE type = %s AND id = %s FOR UPDATE",
                (ref.type, ref.id),
            ).fetchone()
            current = None if found is None or found[1] else str(found[0])
            if expected_version is not None and expected_version != current:
                raise VersionConflict(ref, expected_version, current)
            exists, live = found is not None, current is not None
            version, fields = write(conn, mutation, exists=exists, live=live)
            applied = Applied(str(version), fields_of(fields))
            remember(conn, idempotency_key, mutation, applied)
        return applied

    def current(self, resource: ResourceRef) -> Snapshot:
        """The live row, or a snapshot without version if it is absent or deleted."""
        ref = _own(resource)
        with self._connection() as conn:
            row = conn.execute(
                "SELECT version, fields FROM records WHERE type = %s AND id = %s AND NOT deleted",
                (ref.type, ref.id),
            ).fetchone()
        if row is None:
            return Snapshot(ref, None, {})
        return Snapshot(ref, str(row[0]), fields_of(row[1]))

    def changes(self, since: int, limit: int = 500) -> list[Change]:
        """The feed after sequence ``since`` (including changes made by hand in SQL)."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT seq, type, id, version, fields, deleted, changed_at FROM changes"
                " WHERE seq > %s ORDER BY seq LIMIT %s",
                (since, limit),
            ).fetchall()
        return [
            Change(seq, ResourceRef(system=SYSTEM, type=kind, id=ident), str(version),
                   fields_of(fields), deleted, changed_at)
            for seq, kind, ident, version, fields, deleted, changed_at in rows
        ]  # fmt: skip

    def feed_head(self) -> int:
        """How far the feed's own sequence has gone (``changes_head()``, the owner's)."""
        try:
            with self._connection() as conn:
                row = conn.execute("SELECT changes_head()").fetchone()
        except psycopg.errors.UndefinedFunction as exc:  # a schema from before the function
            raise ConnectorUnavailable(
                f"{SYSTEM} has no changes_head() (`agentledger up`)"
            ) from exc
        return int(row[0]) if row is not None and row[0] is not None else 0

    def edit_out_of_band(self, resource: ResourceRef, fields: dict[str, Value]) -> Snapshot:
        """Merge ``fields`` with a plain SQL UPDATE, as a human would (no key, no version check)."""
        ref = _own(resource)
        with self._connection() as conn:
            row = conn.execute(
                "UPDATE records SET fields = fields || %s WHERE type = %s AND id = %s"
                " AND NOT deleted RETURNING version, fields",
                (Jsonb(fields, dumps=dumps), ref.type, ref.id),
            ).fetchone()
        if row is None:
            raise LookupError(f"{ref.key} does not exist")
        return Snapshot(ref, str(row[0]), fields_of(row[1]))

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()

    @contextmanager
    def _connection(self) -> Iterator[Conn]:
        """A pooled connection; failures to reach the server (or its tables) are retryable."""
        try:
            self._pool.open()
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
            raise ConnectorUnavailable(f"{SYSTEM}: {exc}") from exc
        except psycopg.errors.UndefinedTable as exc:
            problem = f"{SYSTEM} has no tables yet (`agentledger up` makes them): {exc}"
            raise ConnectorUnavailable(problem) from exc
        except psycopg.DataError as exc:
            raise MutationRefused(f"{SYSTEM} refused the values: {exc}") from exc


def _own(ref: ResourceRef) -> ResourceRef:
    """``ref`` if it belongs to this system; another system's resource is refused (final)."""
    if ref.system != SYSTEM:
        raise MutationRefused(f"the {SYSTEM} connector cannot serve {ref.key}")
    return ref
