"""Roles, databases and tables, made as the role table says (idempotently, as a superuser).

Run by the deployment only, through a superuser connection: the roles with their
generated passwords, the owners' databases, then each ledger's tables (created as
``ledger_owner``, granted per :mod:`infra.database_roles`). No service creates a table
of the event store; they find it made.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import psycopg
from eventsourcing.postgres import PostgresDatastore
from psycopg import sql

from infra.connectors.postgres_schema import ensure_schema
from infra.database_roles import (
    BILLING_CLIENT,
    BILLING_FEED,
    BILLING_OWNER,
    BILLING_RECORDS,
    EVENT_STORE,
    LEDGER_OWNER,
    LOGINS,
    OWNERS,
    REGISTRY,
    SERVICES,
    SIDE_TABLES,
    VIEW_MEMBERS,
    VIEW_READERS,
    VIEWS,
    privileges,
)
from infra.ledger.recorder import DDL_LOCK, LedgerRecorder

Conn = psycopg.Connection[Any]
REGISTRY_SCHEMA = "apicurio_registry"
SIDE_SUFFIXES = ("positions", "policy_inputs", "decisions", "approvals", "executions")


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


def ensure_roles(conn: Conn, password: Callable[[str], str]) -> None:
    """Owners that cannot log in; a login per service with its generated password."""
    for role in (*OWNERS, *LOGINS):
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        if role in OWNERS:
            conn.execute(sql.SQL(verb + " ROLE {} NOLOGIN").format(_ident(role)))
            continue
        conn.execute(
            sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS"
                    " PASSWORD {}").format(_ident(role), sql.Literal(password(role)))
        )  # fmt: skip
    for member in VIEW_MEMBERS:
        conn.execute(sql.SQL("GRANT {} TO {}").format(_ident(VIEWS), _ident(member)))


def ensure_database(conn: Conn, name: str, owner: str, logins: tuple[str, ...]) -> None:
    """Database ``name`` owned by ``owner``; only ``logins`` may connect to it."""
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(_ident(name), _ident(owner)))
    conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(_ident(name)))
    for login in logins:
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(_ident(name), _ident(login))
        )


def ledger_logins() -> tuple[str, ...]:
    """Who connects to the ledger's database: the services and the registry."""
    return (*SERVICES, REGISTRY)


def prepare_ledger_database(conn: Conn) -> None:
    """Schema rights in the ledger's database: views may create, the registry has its own."""
    conn.execute(sql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(_ident(VIEWS)))
    conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    conn.execute(
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
            _ident(REGISTRY_SCHEMA), _ident(REGISTRY)
        )
    )
    readers = sql.SQL(", ").join(_ident(r) for r in VIEW_READERS)
    default = "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT SELECT ON TABLES TO {}"
    conn.execute(sql.SQL(default).format(_ident(VIEWS), readers))


def ensure_ledger(conn: Conn, ledger_name: str) -> None:
    """The event store and side tables of ledger ``ledger_name``, owned and granted."""
    prefix = ledger_name.lower()
    recorder = LedgerRecorder(_statements_only(conn), events_table_name=f"{prefix}_events")
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK,))
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(_ident(LEDGER_OWNER)))
        for statement in recorder.sql_create_statements:
            if "CREATE TYPE" not in statement.as_string(conn):
                conn.execute(statement)
                continue
            with contextlib.suppress(psycopg.errors.DuplicateObject), conn.transaction():
                conn.execute(statement)  # no IF NOT EXISTS for types: a savepoint instead
        events = f"{prefix}_events"
        for role in SERVICES:
            _grant(conn, privileges(role, EVENT_STORE), events, role)
            for suffix in SIDE_SUFFIXES:
                _grant(conn, privileges(role, SIDE_TABLES), f"{prefix}_{suffix}", role)
            if "INSERT" in privileges(role, EVENT_STORE):
                conn.execute(
                    sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(
                        _ident(f"{events}_notification_id_seq"), _ident(role)
                    )
                )


def ensure_billing(conn: Conn) -> None:
    """The billing system's tables and triggers, owned by it; its API client's rights."""
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(_ident(BILLING_OWNER)))
        ensure_schema(conn)
        conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC"))
        for table in ("records", "idempotency"):
            _grant(conn, privileges(BILLING_CLIENT, BILLING_RECORDS), table, BILLING_CLIENT)
        _grant(conn, privileges(BILLING_CLIENT, BILLING_FEED), "changes", BILLING_CLIENT)


def drop_ledger(conn: Conn, ledger_name: str) -> None:
    """Drop every table of ledger ``ledger_name`` (events, side tables, views)."""
    prefix = ledger_name.lower()
    tables = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE %s",
        (f"{prefix}\\_%",),
    ).fetchall()
    for (table,) in tables:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_ident(str(table))))


def _grant(conn: Conn, granted: tuple[str, ...], table: str, role: str) -> None:
    if granted:
        grant = sql.SQL("GRANT " + ", ".join(granted) + " ON {} TO {}")
        conn.execute(grant.format(_ident(table), _ident(role)))


def _statements_only(conn: Conn) -> PostgresDatastore:
    """A datastore that never connects: the recorder needs one to build its statements."""
    info = conn.info
    return PostgresDatastore(info.dbname, info.host, info.port, info.user, "", schema="public")
