"""The CRM simulator keeps a writer's W3C trace context with the change it makes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from simulators.crm_saas.server import _traceparent
from simulators.crm_saas.service import Crm, Write
from simulators.crm_saas.store import Store

pytestmark = pytest.mark.unit
PARENT = "00-" + "4" * 32 + "-" + "5" * 16 + "-01"


def test_a_traced_write_shows_its_traceparent_in_the_feed_and_an_untraced_one_none(
    tmp_path: Path,
) -> None:
    """The feed entry of a write with a traceparent carries it; a hand edit carries none."""
    crm = Crm(Store(tmp_path / "crm.sqlite3"))
    crm.write(Write("contact", "1", {"name": "Ada"}, None, "k1", "f1", PARENT))
    crm.edit("contact", "1", {"name": "Grace"})
    changes = crm.changes(0, 10).body["changes"]
    assert [change.get("traceparent") for change in changes] == [PARENT, None]


def test_a_store_made_before_traces_gains_the_column_and_keeps_its_changes(
    tmp_path: Path,
) -> None:
    """An old changes table (no traceparent column) is migrated in place on open."""
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL,"
            " id TEXT NOT NULL, version INTEGER NOT NULL, fields TEXT NOT NULL,"
            " deleted INTEGER NOT NULL, changed_at TEXT NOT NULL)"
        )
        db.execute("INSERT INTO changes VALUES (1, 'contact', '7', 1, '{}', 0, '2026-01-01')")
    crm = Crm(Store(path))
    (old,) = crm.changes(0, 10).body["changes"]
    assert (old["id"], "traceparent" in old) == ("7", False)


def test_only_a_well_formed_traceparent_is_kept() -> None:
    """Version 00 with hex ids is kept as given; anything else (or oversized) is dropped."""
    assert _traceparent(PARENT) == PARENT
    for junk in ("", "01-" + PARENT[3:], PARENT + "x", "00-zz", "x" * 10_000, None):
        assert _traceparent(junk) is None
