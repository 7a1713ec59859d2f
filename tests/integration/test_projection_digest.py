"""A projection's digest: equal for equal rows however they were written, different otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.sql import SQL

from agentledger.bootstrap import projection_store
from agentledger.settings import Settings
from domain.events import ExternalStateObserved
from domain.values import ResourceRef
from projections.actual import ActualState
from projections.store import ProjectionStore, Tables, canonical
from tests.db_helpers import admin_url
from tests.strategies import records

pytestmark = pytest.mark.integration

AT = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
ROWS = [
    (f"billing/invoice/{n}", "amount", str(n * 10), str(n), AT + timedelta(seconds=n))
    for n in range(50)
] + [(f"billing/invoice/{n}", "note", '{"b": [1, 2.5], "a": "x"}', str(n), AT) for n in range(50)]


def _write(conn: psycopg.Connection[Any], t: Tables, rows: Sequence[tuple[object, ...]]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            SQL(
                "INSERT INTO {0} (resource_key, field, value, external_version, observed_at)"
                " VALUES (%s, %s, %s::jsonb, %s, %s)"
            ).format(t("actual_fields")),
            rows,
        )


def _written(
    isolated: Settings, live_rows: Sequence[tuple[object, ...]],
    build_rows: Sequence[tuple[object, ...]],
) -> tuple[ProjectionStore, ActualState, Tables, Tables]:  # fmt: skip
    """The actual view's live and build tables, their fields rows written as given."""
    store, projection = projection_store(isolated, builds=True), ActualState()
    live, build = Tables(store.prefix), Tables(store.prefix, build=True)
    store.ensure([projection], live)
    store.ensure([projection], build)
    with psycopg.connect(admin_url(isolated), autocommit=True) as conn:
        _write(conn, live, live_rows)
        _write(conn, build, build_rows)
    return store, projection, live, build


def test_equal_rows_give_equal_digests_whatever_the_order_or_the_reader_time_zone(
    isolated: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows written in reverse order, digested by a session in another time zone, digest the same."""
    store, projection, live, build = _written(isolated, ROWS, list(reversed(ROWS)))
    monkeypatch.setenv("PGTZ", "UTC")
    expected = store.digest(projection, live)
    monkeypatch.setenv("PGTZ", "Asia/Kolkata")  # libpq sets the session's TimeZone from it
    assert store.digest(projection, build) == expected


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (("UPDATE {0} SET value = '11'::jsonb WHERE resource_key = 'billing/invoice/1'"
          " AND field = 'amount'"), "one value"),
        (("UPDATE {0} SET observed_at = observed_at + interval '1 millisecond'"
          " WHERE resource_key = 'billing/invoice/7' AND field = 'note'"), "one instant by 1 ms"),
        ("DELETE FROM {0} WHERE resource_key = 'billing/invoice/49' AND field = 'note'",
         "one row fewer"),
    ],
)  # fmt: skip
def test_a_single_difference_changes_the_digest(
    isolated: Settings, change: LiteralString, why: str
) -> None:
    """Changing one value, one instant by a millisecond, or dropping one row changes the digest."""
    store, projection, live, build = _written(isolated, ROWS, ROWS)
    assert store.digest(projection, build) == store.digest(projection, live)
    with psycopg.connect(admin_url(isolated), autocommit=True) as conn:
        conn.execute(SQL(change).format(build("actual_fields")))
    assert store.digest(projection, build) != store.digest(projection, live), why


def _without_nul(observed: ExternalStateObserved) -> bool:
    """PostgreSQL's text and jsonb hold no NUL character (apply and fill refuse it alike)."""
    texts = (observed.source, observed.external_version, canonical(observed.fields))
    return not any("\x00" in text or "\\u0000" in text for text in texts)


REFS = [ResourceRef(system="crm", type="contact", id=str(n)) for n in range(4)]
OBSERVATIONS = st.lists(
    st.tuples(records(ExternalStateObserved), st.sampled_from(REFS), st.integers(0, 3)),
    max_size=12,
).map(lambda drawn: [
    record.model_copy(update={"resource": ref, "change_sequence": sequence})
    for record, ref, sequence in drawn
]).filter(lambda observed: all(map(_without_nul, observed)))  # fmt: skip
"""Observations of four resources, so several per resource, equal sequences among them."""


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(observed=OBSERVATIONS)
def test_filling_empty_tables_leaves_the_rows_that_applying_leaves(
    isolated: Settings, observed: list[ExternalStateObserved]
) -> None:
    """A rebuild's first write (binary COPY into empty tables) leaves exactly apply's rows."""
    store, projection = projection_store(isolated, builds=True), ActualState()
    applied, filled = Tables(store.prefix), Tables(store.prefix, build=True)
    store.drop_build(projection)
    with psycopg.connect(admin_url(isolated), autocommit=True) as conn:
        for table in projection.tables:
            conn.execute(SQL("DROP TABLE IF EXISTS {0}").format(applied(table)))
    store.ensure([projection], applied)
    store.ensure([projection], filled)
    with psycopg.connect(admin_url(isolated)) as conn:
        store.load(conn, projection, observed, applied, empty=False)
        store.load(conn, projection, observed, filled, empty=True)
    assert store.digest(projection, filled) == store.digest(projection, applied)
