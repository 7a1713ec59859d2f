"""PostgreSQL attacked as each role a service holds: the event store and billing stay untouched.

Before the trust boundary every process logged in as one role with a default password,
which owned the event store and billing's tables and triggers: it could cut or rewrite
an aggregate's history, or edit billing with its feed trigger disabled.
"""

from __future__ import annotations

import stat
from pathlib import Path

import psycopg
import pytest
from psycopg import errors, sql

from agentledger.credentials import database_url, systems_database_url
from agentledger.settings import SYSTEMS_DATABASE, Settings
from infra.database_roles import (
    BILLING_CLIENT,
    BILLING_OWNER,
    LEDGER_OWNER,
    REGISTRY,
    SERVICES,
    WRITERS,
)
from infra.ledger.ledger import Ledger
from tests.conftest import unique
from tests.db_helpers import admin_url
from tests.relay_helpers import write_events

pytestmark = pytest.mark.integration

ROLES = (*SERVICES, REGISTRY)
REFUSED = (errors.InsufficientPrivilege, errors.UndefinedTable)
"""What the server answers: no right, or (no USAGE on it at all) no such table to see."""


@pytest.fixture
def history(isolated: Settings, own_ledger: Ledger) -> tuple[str, list[tuple[object, ...]]]:
    """The isolated ledger's events table, holding a few events, and its rows as written."""
    write_events(own_ledger, proposals=3, batch=3, agents=1)
    table = f"{isolated.ledger_name.lower()}_events"
    return table, _rows(isolated, table)


def _rows(settings: Settings, table: str) -> list[tuple[object, ...]]:
    with psycopg.connect(admin_url(settings)) as conn:
        query = sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {} ORDER BY 1, 2"
        )
        return conn.execute(query.format(sql.Identifier(table))).fetchall()


def _as(settings: Settings, role: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(database_url(settings, role), autocommit=True)


def _refused(
    conn: psycopg.Connection[tuple[object, ...]], statement: sql.SQL | sql.Composed
) -> str:
    """The server's refusal of ``statement`` (the test fails if it runs)."""
    with pytest.raises(REFUSED) as refusal:
        conn.execute(statement)
    return str(refusal.value)


@pytest.mark.parametrize("role", ROLES)
def test_no_role_a_service_holds_can_cut_or_rewrite_the_event_store(
    isolated: Settings, history: tuple[str, list[tuple[object, ...]]], role: str
) -> None:
    """UPDATE, DELETE, TRUNCATE, DROP and disabling its triggers are refused; every event stays."""
    table, before = history
    events = sql.Identifier(table)
    attacks = [
        sql.SQL("UPDATE {} SET state = 'forged'::bytea").format(events),
        sql.SQL("DELETE FROM {} WHERE originator_version > 1").format(events),
        sql.SQL("TRUNCATE {}").format(events),
        sql.SQL("ALTER TABLE {} DISABLE TRIGGER ALL").format(events),
        sql.SQL("DROP TABLE {}").format(events),
        sql.SQL("SET ROLE {}").format(sql.Identifier(LEDGER_OWNER)),
    ]
    with _as(isolated, role) as conn:
        for attack in attacks:
            _refused(conn, attack)
    assert _rows(isolated, table) == before


@pytest.mark.parametrize("role", [role for role in ROLES if role not in WRITERS])
def test_a_role_that_only_reads_or_never_records_cannot_forge_an_event(
    isolated: Settings, history: tuple[str, list[tuple[object, ...]]], role: str
) -> None:
    """The relay reads the store, the projector and the registry never touch it: none inserts."""
    table, before = history
    forged = sql.SQL(
        "INSERT INTO {} (originator_id, originator_version, topic, state)"
        " VALUES (gen_random_uuid(), 1, 'forged', 'x'::bytea)"
    ).format(sql.Identifier(table))
    with _as(isolated, role) as conn:
        _refused(conn, forged)
    assert _rows(isolated, table) == before


@pytest.mark.parametrize("role", [*ROLES, BILLING_CLIENT])
def test_billing_cannot_be_edited_behind_its_change_feed(settings: Settings, role: str) -> None:
    """Nobody we hold can disable billing's triggers, write its feed or skip triggers by replica mode.

    Service roles may not even connect to billing's database; its API client may change
    records (the trigger then feeds the change) but nothing else.
    """
    if role != BILLING_CLIENT:
        url = database_url(settings, role).replace("/agentledger", f"/{SYSTEMS_DATABASE}")
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            psycopg.connect(url).close()
        return
    with psycopg.connect(systems_database_url(settings), autocommit=True) as conn:
        feed_before = conn.execute("SELECT count(*), max(seq) FROM changes").fetchone()
        for attack in (
            "ALTER TABLE records DISABLE TRIGGER records_feed",
            "ALTER TABLE records DISABLE TRIGGER ALL",
            "DROP TRIGGER records_feed ON records",
            (
                "INSERT INTO changes (type, id, version, fields, deleted)"
                " VALUES ('invoice', 'forged', 1, '{}', false)"
            ),
            "DELETE FROM changes",
            "UPDATE changes SET fields = '{}'",
            "TRUNCATE changes",
            "SET session_replication_role = replica",
            f"SET ROLE {BILLING_OWNER}",
            (
                "CREATE OR REPLACE FUNCTION records_feed() RETURNS trigger LANGUAGE plpgsql"
                " AS $$ BEGIN RETURN NEW; END $$"
            ),
        ):
            _refused(conn, sql.SQL(attack))
        assert conn.execute("SELECT count(*), max(seq) FROM changes").fetchone() == feed_before


def test_the_billing_client_still_changes_records_and_every_change_is_fed(
    settings: Settings,
) -> None:
    """The API client's UPDATE runs the owner's trigger: the feed records it although the client cannot write it."""
    ident = unique("fed")
    with psycopg.connect(systems_database_url(settings), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO records (type, id, fields) VALUES ('invoice', %s, '{}')", (ident,)
        )
        conn.execute("UPDATE records SET fields = '{\"a\": 1}' WHERE id = %s", (ident,))
        fed = conn.execute("SELECT version FROM changes WHERE id = %s ORDER BY seq", (ident,))
        assert fed.fetchall() == [(1,), (2,)]


def test_no_default_credential_and_no_superuser_login_over_tcp(settings: Settings) -> None:
    """The old shared role is gone, the superuser has no password, no login role is privileged."""
    port = settings.postgres_port
    for user, password in (
        ("agentledger", "agentledger"),
        ("postgres", "postgres"),
        ("postgres", ""),
    ):
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(
                host="127.0.0.1", port=port, user=user, password=password, dbname="agentledger",
                connect_timeout=5,
            ).close()  # fmt: skip
    with psycopg.connect(admin_url(settings)) as conn:
        privileged = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolcanlogin AND rolname <> 'postgres'"
            " AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls OR rolreplication)"
        ).fetchall()
        owners_login = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolcanlogin AND rolname = ANY(%s)",
            ([LEDGER_OWNER, BILLING_OWNER],),
        ).fetchall()
    assert privileged == []
    assert owners_login == []


def test_the_servers_socket_is_private(settings: Settings) -> None:
    """Only the server's own user reaches the socket where provisioning logs in without a password."""
    socket_dir = Path(settings.state_dir).resolve() / "postgres" / "run"
    assert stat.S_IMODE(socket_dir.stat().st_mode) & 0o077 == 0
