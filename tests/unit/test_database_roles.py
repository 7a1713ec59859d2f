"""The PostgreSQL role table: docs/stack.md prints the code's table, and its least-privilege rules hold."""

from __future__ import annotations

from agentledger.settings import REPO_ROOT
from infra.database_roles import (
    BILLING_CLIENT,
    BILLING_FEED,
    EVENT_STORE,
    LOGINS,
    OWNERS,
    TABLE,
    WRITERS,
    markdown,
    privileges,
)

CHANGES = {"UPDATE", "DELETE", "TRUNCATE"}


def test_the_readme_prints_the_role_table_of_the_code() -> None:
    """docs/stack.md's "Who may do what in PostgreSQL" table is exactly :func:`markdown`."""
    assert "<!-- role-table -->\n" + markdown() in (REPO_ROOT / "docs" / "stack.md").read_text()


def test_the_event_store_is_append_only_for_every_role_that_logs_in() -> None:
    """Nobody who can log in may change or remove an event; only the recording services insert."""
    for role in LOGINS:
        assert not CHANGES & set(privileges(role, EVENT_STORE)), role
    inserters = {g.role for g in TABLE if g.objects == EVENT_STORE and "INSERT" in g.privileges}
    assert inserters == set(WRITERS)
    assert privileges("relay", EVENT_STORE) == ("SELECT",)


def test_no_owner_logs_in_and_no_login_owns_the_ledger() -> None:
    """Owners and logins are disjoint: the event store's owner is never a service."""
    assert not set(OWNERS) & set(LOGINS)


def test_the_billing_client_reads_the_feed_and_never_writes_it() -> None:
    """Its change feed is written by billing's trigger alone."""
    assert privileges(BILLING_CLIENT, BILLING_FEED) == ("SELECT",)
    assert all(g.role == BILLING_CLIENT for g in TABLE if "billing" in g.objects)
