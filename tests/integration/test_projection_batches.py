"""Every projection: a history applied live, batch by batch, leaves what one replay of it leaves."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.sql import SQL

from agentledger.bootstrap import projection_store, topic_serdes
from agentledger.settings import Settings
from domain.events import ProposalRejected
from domain.values import Record
from infra.serde.topic_serde import TopicSerde
from projections.registry import projections
from projections.store import Position, Projection, ProjectionStore, Tables
from tests.history_strategies import cuts, history

pytestmark = pytest.mark.integration


def _fresh(store: ProjectionStore, projection: Projection, url: str) -> None:
    """No rows, no tracking, no build tables: as before the projection's first record."""
    with psycopg.connect(url, autocommit=True) as conn:
        for table in projection.tables:
            conn.execute(SQL("DROP TABLE IF EXISTS {0}").format(Tables(store.prefix)(table)))
        store.drop_build(projection, conn)
        store.ensure([projection], conn=conn)
        conn.execute(
            SQL("DELETE FROM {0} WHERE projection = %s").format(store.tracking), (projection.name,)
        )


def _live(store: ProjectionStore, projection: Projection, batches: list[list[Record]]) -> None:
    """Apply each batch as the projector does, on a new connection each (a restart between)."""
    topic, offset = projection.topics[0], 0
    for batch in batches:
        positioned = []
        for record in batch:
            positioned.append((Position(topic, 0, offset), record))
            offset += 1
        with psycopg.connect(store.url) as conn:
            store.apply(conn, projection, positioned)


def _replayed(
    store: ProjectionStore, projection: Projection, serde: TopicSerde, records: list[Record]
) -> None:
    """Read every record's bytes as a rebuild does (its reducer), then write the build tables."""
    held = projection.reducer()
    for record in records:
        held.add(serde.decode(serde.serialize(record)))
    build = Tables(store.prefix, build=True)
    with psycopg.connect(store.url) as conn:
        store.ensure([projection], build, conn)
        store.load(conn, projection, held.drain(), build, empty=True)


def _rows(store: ProjectionStore, projection: Projection, t: Tables) -> dict[str, list[Any]]:
    with psycopg.connect(store.url) as conn:
        return {
            table: conn.execute(SQL("SELECT * FROM {0} ORDER BY 1, 2").format(t(table))).fetchall()
            for table in projection.tables
        }


@pytest.mark.parametrize("name", ["believed", "approvals", "timeline", "drift", "actual"])
@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_live_batches_with_restarts_leave_the_rows_and_digest_of_one_replay(
    isolated: Settings, name: str, data: st.DataObject
) -> None:
    """Any history, cut into batches at random and applied live, equals one replay of it."""
    (projection,) = projections([name])
    store = projection_store(isolated, builds=True)
    topic = projection.topics[0]
    serde = _serde(isolated, topic)
    records = data.draw(history(topic), label="history")
    batches = data.draw(cuts(records), label="batches")
    _fresh(store, projection, store.url)
    _live(store, projection, batches)
    _replayed(store, projection, serde, records)
    live, build = Tables(store.prefix), Tables(store.prefix, build=True)
    assert _rows(store, projection, live) == _rows(store, projection, build)
    assert store.digest(projection, live) == store.digest(projection, build)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_the_timeline_is_the_same_however_rejections_of_other_partitions_interleave(
    isolated: Settings, data: st.DataObject
) -> None:
    """A rejected proposal, keyed by another resource, read before or after the action's events: same rows."""
    (projection,) = projections(["timeline"])
    store = projection_store(isolated, builds=True)
    records = data.draw(history("actions.v1"), label="history")
    others = [r for r in records if not isinstance(r, ProposalRejected)]
    rejections = [r for r in records if isinstance(r, ProposalRejected)]
    moved = list(others)
    for rejection in rejections:
        moved.insert(data.draw(st.integers(0, len(moved)), label="at"), rejection)
    _fresh(store, projection, store.url)
    _live(store, projection, data.draw(cuts(records), label="batches"))
    _replayed(store, projection, _serde(isolated, "actions.v1"), moved)
    live, build = Tables(store.prefix), Tables(store.prefix, build=True)
    assert _rows(store, projection, live) == _rows(store, projection, build)


_SERDES: dict[tuple[str, str], TopicSerde] = {}


def _serde(isolated: Settings, topic: str) -> TopicSerde:
    """One serde per topic and test (building one looks its contracts up in the registry)."""
    key = (isolated.topic(topic), topic)
    if key not in _SERDES:
        _SERDES[key] = topic_serdes(isolated, topic)[topic]
    return _SERDES[key]
