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

from agentledger.bootstrap import ensure_ledger_tables, projection_store
from agentledger.credentials import database_url, systems_database_url
from agentledger.settings import SYSTEMS_DATABASE, Settings
from infra.database_roles import (
    BILLING_CLIENT,
    BILLING_OWNER,
    LEDGER_OWNER,
    REGISTRY,
    SERVICES,
    VIEW_MEMBERS,
    WRITERS,
)
from infra.ledger.ledger import Ledger
from infra.ledger.recorder import insert_lock_key
from infra.stack.errors import StackError
from projections.store import qualified
from tests.conftest import unique
from tests.db_helpers import admin_url
from tests.relay_helpers import write_events

pytestmark = pytest.mark.integration

ROLES = (*SERVICES, REGISTRY)
VIEWS_ATTACKS = (
    "CREATE FUNCTION public.pg_advisory_xact_lock(integer) RETURNS void LANGUAGE sql AS 'SELECT'",
    "CREATE FUNCTION views.pg_advisory_xact_lock(integer) RETURNS void LANGUAGE sql AS 'SELECT'",
    "CREATE VIEW views.looks_like_a_table AS SELECT 1 AS n",
    "CREATE TABLE public.shadow (n integer)",
    "CREATE OPERATOR views.=== (LEFTARG = integer, RIGHTARG = integer, FUNCTION = int4eq)",
    "CREATE SCHEMA elsewhere",
)
"""What a views builder might plant for others (or the superuser) to run."""
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


@pytest.mark.parametrize("builder", VIEW_MEMBERS)
def test_a_views_builder_makes_tables_in_its_schema_and_nothing_that_runs_code(
    isolated: Settings, builder: str
) -> None:
    """A function, view, trigger or rule by ``views`` would run as whoever reads the views.

    So would a function planted in ``public`` run as the superuser provisioning the next
    ledger (CVE-2018-1058): ``views`` makes tables and indexes in its own schema only.
    """
    store = projection_store(isolated, builder, builds=True)
    scratch = qualified(store.prefix, "scratch")
    with psycopg.connect(store.url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE {} (n integer PRIMARY KEY)").format(scratch))
        try:
            for attack in VIEWS_ATTACKS:
                _refused(conn, sql.SQL(attack))
            _refused(conn, sql.SQL(
                "CREATE RULE forge AS ON SELECT TO {} DO INSTEAD SELECT 1 AS n"
            ).format(scratch))  # fmt: skip
        finally:
            conn.execute(sql.SQL("DROP TABLE {}").format(scratch))


def test_tables_made_ahead_of_the_ledgers_owner_are_refused(isolated: Settings) -> None:
    """Provisioning never adopts an event store someone else made (and could then rewrite)."""
    later = isolated.model_copy(update={"ledger_name": unique("L").replace("-", "")})
    events = sql.Identifier("public", f"{later.ledger_name.lower()}_events")
    with psycopg.connect(admin_url(later), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE {} (n integer)").format(events))
        conn.execute(sql.SQL("ALTER TABLE {} OWNER TO projector").format(events))
        try:
            with pytest.raises(StackError, match="not all ledger_owner's"):
                ensure_ledger_tables(later)
        finally:
            conn.execute(sql.SQL("DROP TABLE {}").format(events))


def test_an_insert_that_skips_the_recorders_lock_still_waits_for_the_writers_lock(
    isolated: Settings, history: tuple[str, list[tuple[object, ...]]]
) -> None:
    """Events commit in notification order even from a writer that inserts by hand.

    The table's own trigger takes the writers' lock, so an insert that skipped it cannot
    take a notification id while another writer holds one uncommitted.
    """
    table, _ = history
    holder = psycopg.connect(database_url(isolated, "executor"))
    try:
        holder.execute(
            "SELECT pg_catalog.pg_advisory_xact_lock(%s::bigint)", (insert_lock_key(table),)
        )
        with _as(isolated, "decider") as hostile:
            hostile.execute("SET lock_timeout = '1s'")
            with pytest.raises(errors.LockNotAvailable):
                hostile.execute(
                    sql.SQL(
                        "INSERT INTO {} (originator_id, originator_version, topic, state)"
                        " VALUES (gen_random_uuid(), 1, 'by hand', 'x'::bytea)"
                    ).format(sql.Identifier(table))
                )
    finally:
        holder.rollback()
        holder.close()


def test_the_billing_client_can_neither_move_a_record_nor_set_its_version(
    settings: Settings,
) -> None:
    """A moved key or a chosen version would leave the feed telling another story."""
    ident = unique("kept")
    with psycopg.connect(systems_database_url(settings), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO records (type, id, fields) VALUES ('invoice', %s, '{}')", (ident,)
        )
        for attack in (
            "UPDATE records SET id = 'moved' WHERE id = %(id)s",
            "UPDATE records SET type = 'other' WHERE id = %(id)s",
            "UPDATE records SET version = 99 WHERE id = %(id)s",
            "INSERT INTO records (type, id, fields, version) VALUES ('invoice', 'v', '{}', 99)",
            "DELETE FROM records WHERE id = %(id)s",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(attack, {"id": ident} if "%(id)s" in attack else None)
        row = conn.execute("SELECT type, version FROM records WHERE id = %s", (ident,))
        assert row.fetchone() == ("invoice", 1)
