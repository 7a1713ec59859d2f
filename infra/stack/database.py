"""Roles and databases made as the role table says (idempotently, as the superuser).

Run by the deployment only, through the server's private socket, with ``search_path``
pinned to ``pg_catalog``: nothing a service role created can stand in for what these
statements call. Passwords go to the server as SCRAM verifiers, never as text that a
failing statement could log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from infra.connectors.postgres_schema import ensure_schema
from infra.database_roles import (
    BILLING_CLIENT,
    BILLING_FEED,
    BILLING_KEYS,
    BILLING_OWNER,
    BILLING_RECORDS,
    LOGINS,
    OWNERS,
    REGISTRY,
    SERVICES,
    VIEW_MEMBERS,
    VIEW_READERS,
    VIEWS,
    VIEWS_SCHEMA,
    privileges,
)

Conn = psycopg.Connection[Any]
REGISTRY_SCHEMA = "apicurio_registry"
SUPERUSER_OPTIONS = "-c search_path=pg_catalog"
VIEWS_MAY = ("CREATE TABLE", "CREATE INDEX", "ALTER TABLE", "ALTER INDEX", "DROP TABLE",
             "DROP INDEX")  # fmt: skip
"""What ``views`` may do: tables and their indexes, nothing that would run code."""
VIEWS_GUARD = """
CREATE OR REPLACE FUNCTION public.views_make_tables_only() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF pg_has_role(current_user, 'views', 'MEMBER')
       AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND tg_tag <> ALL (%(allowed)s::text[]) THEN
        RAISE EXCEPTION 'views may create tables and indexes only, not %', tg_tag
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END $$;
REVOKE ALL ON FUNCTION public.views_make_tables_only() FROM PUBLIC;
DROP EVENT TRIGGER IF EXISTS views_make_tables_only;
CREATE EVENT TRIGGER views_make_tables_only ON ddl_command_start
    EXECUTE FUNCTION public.views_make_tables_only();
"""


def _ident(*names: str) -> sql.Identifier:
    return sql.Identifier(*names)


def ensure_roles(conn: Conn, password: Callable[[str], str]) -> None:
    """Owners that cannot log in; a login per service with its generated password."""
    for role in (*OWNERS, *LOGINS):
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        if role in OWNERS:
            conn.execute(sql.SQL(verb + " ROLE {} NOLOGIN").format(_ident(role)))
            continue
        verifier = conn.pgconn.encrypt_password(
            password(role).encode(), role.encode(), b"scram-sha-256"
        ).decode()
        attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION"
        statement = sql.SQL(verb + " ROLE {} " + attributes + " PASSWORD {}")
        conn.execute(statement.format(_ident(role), sql.Literal(verifier)))
    for member in VIEW_MEMBERS:
        conn.execute(sql.SQL("GRANT {} TO {}").format(_ident(VIEWS), _ident(member)))
    for name in ("postgres", "template1"):  # the server's own: nobody of ours connects there
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(_ident(name)))


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
    """Schemas in the ledger's database: the views' and the registry's, each its owner's.

    Nobody but the ledger's owner creates in ``public``; ``views`` makes only tables and
    indexes, in its own schema, which its readers reach by qualified names.
    """
    conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    for schema, owner in ((VIEWS_SCHEMA, VIEWS), (REGISTRY_SCHEMA, REGISTRY)):
        conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
                _ident(schema), _ident(owner)
            )
        )
    readers = sql.SQL(", ").join(_ident(r) for r in VIEW_READERS)
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(_ident(VIEWS_SCHEMA), readers))
    default = "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT ON TABLES TO {}"
    conn.execute(sql.SQL(default).format(_ident(VIEWS), _ident(VIEWS_SCHEMA), readers))
    existing = "GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}"  # made before a reader was added
    conn.execute(sql.SQL(existing).format(_ident(VIEWS_SCHEMA), readers))
    conn.execute(VIEWS_GUARD.replace("%(allowed)s", _array(VIEWS_MAY)).encode())


def ensure_billing(conn: Conn) -> None:
    """The billing system's tables and triggers, owned by it; its API client's rights."""
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(_ident(BILLING_OWNER)))
        conn.execute("SET LOCAL search_path = public")  # where billing's owner alone creates
        ensure_schema(conn)
        conn.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC")
        client = _ident(BILLING_CLIENT)
        for table, objects in (("records", BILLING_RECORDS), ("idempotency", BILLING_KEYS),
                               ("changes", BILLING_FEED)):  # fmt: skip
            conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(_ident(table), client))
            grant = "GRANT " + ", ".join(privileges(BILLING_CLIENT, objects)) + " ON {} TO {}"
            conn.execute(sql.SQL(grant).format(_ident(table), client))


def _array(words: tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join(f"'{word}'" for word in words) + "]"
