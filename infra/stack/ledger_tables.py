"""A ledger's tables, made by the deployment as ``ledger_owner`` and granted per the role table.

No service creates a table of the event store: they find it made. Every insert into it
takes the writers' lock in a trigger the owner holds, so even a client that skips the
recorder's own lock cannot commit events out of their notification order.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
from eventsourcing.postgres import PostgresDatastore
from psycopg import sql

from infra.database_roles import EVENT_STORE, LEDGER_OWNER, SERVICES, SIDE_TABLES, privileges
from infra.ledger.recorder import DDL_LOCK, LedgerRecorder, insert_lock_key
from infra.stack.errors import StackError

Conn = psycopg.Connection[Any]
SIDE_SUFFIXES = (
    "positions", "policy_inputs", "decisions", "approvals", "executions", "agents", "controls",
)  # fmt: skip
SCHEMAS = ("public", "views")
"""Where a ledger's tables are: its own, and its views."""
INSERT_LOCK = """
CREATE OR REPLACE FUNCTION public.ledger_insert_lock() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock(TG_ARGV[0]::bigint);
    RETURN NULL;
END $$;
"""


def ensure_ledger(conn: Conn, ledger_name: str) -> None:
    """The event store and side tables of ledger ``ledger_name``, owned and granted."""
    prefix = ledger_name.lower()
    events = f"{prefix}_events"
    recorder = LedgerRecorder(_statements_only(conn), events_table_name=events)
    tables = [events, f"{events}_notification_id_seq"]
    tables += [f"{prefix}_{suffix}" for suffix in SIDE_SUFFIXES]
    with conn.transaction():
        conn.execute("SELECT pg_catalog.pg_advisory_xact_lock(%s::bigint)", (DDL_LOCK,))
        _require_owned(conn, tables, every=False)
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(LEDGER_OWNER)))
        for statement in recorder.sql_create_statements:
            if "CREATE TYPE" not in statement.as_string(conn):
                conn.execute(statement)
                continue
            with contextlib.suppress(psycopg.errors.DuplicateObject), conn.transaction():
                conn.execute(statement)  # no IF NOT EXISTS for types: a savepoint instead
        conn.execute(INSERT_LOCK.encode())
        conn.execute(
            sql.SQL(
                "CREATE OR REPLACE TRIGGER ledger_insert_lock BEFORE INSERT ON {}"
                " FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_insert_lock({})"
            ).format(_public(events), sql.Literal(str(insert_lock_key(events))))
        )
        _require_owned(conn, tables, every=True)
        for role in SERVICES:
            for table in tables:
                kind = "SEQUENCE " if table.endswith("_seq") else "TABLE "
                conn.execute(sql.SQL("REVOKE ALL ON " + kind + "{} FROM {}").format(
                    _public(table), sql.Identifier(role)))  # fmt: skip
            _grant(conn, privileges(role, EVENT_STORE), events, role)
            for suffix in SIDE_SUFFIXES:
                _grant(conn, privileges(role, SIDE_TABLES), f"{prefix}_{suffix}", role)
            store = privileges(role, EVENT_STORE)  # SELECT: its last value; USAGE: nextval
            sequence = tuple(p for p, needs in (("SELECT", "SELECT"), ("USAGE", "INSERT"))
                             if needs in store)  # fmt: skip
            _grant(conn, sequence, f"{events}_notification_id_seq", role, "SEQUENCE ")


def drop_ledger(conn: Conn, ledger_name: str) -> None:
    """Drop every table of ledger ``ledger_name`` (events, side tables, views)."""
    tables = conn.execute(
        "SELECT schemaname, tablename FROM pg_catalog.pg_tables"
        " WHERE schemaname = ANY(%s) AND starts_with(tablename, %s)",
        (list(SCHEMAS), ledger_name.lower() + "_"),
    ).fetchall()
    for schema, table in tables:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, table)))


def _require_owned(conn: Conn, names: list[str], *, every: bool) -> None:
    """Those of ``names`` that exist (``every``: all must) belong to the ledger's owner.

    A table someone else made ahead of us would stay theirs to rewrite: never adopted.
    """
    found = conn.execute(
        "SELECT c.relname, pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class c"
        " WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY(%s)",
        (names,),
    ).fetchall()
    strangers = sorted(name for name, owner in found if owner != LEDGER_OWNER)
    if strangers or (every and len(found) != len(names)):
        problem = f"the ledger's tables {strangers or names} are not all {LEDGER_OWNER}'s"
        raise StackError("postgres", problem)


def _public(name: str) -> sql.Identifier:
    return sql.Identifier("public", name)


def _grant(conn: Conn, granted: tuple[str, ...], table: str, role: str, kind: str = "") -> None:
    if granted:
        grant = sql.SQL("GRANT " + ", ".join(granted) + " ON " + kind + "{} TO {}")
        conn.execute(grant.format(_public(table), sql.Identifier(role)))


def _statements_only(conn: Conn) -> PostgresDatastore:
    """A datastore that never connects: the recorder needs one to build its statements."""
    info = conn.info
    return PostgresDatastore(info.dbname, info.host, info.port, info.user, "", schema="public")
