"""Cutting, deleting or rewriting the store as its superuser, re-sealed or not, is named by the audit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from agentledger.bootstrap import audit_store
from agentledger.settings import Settings
from domain.hashing import seal
from infra.audit.store import audit_store as chains_only
from infra.ledger.ledger import Ledger
from tests.db_helpers import admin_url
from tests.relay_helpers import relay_until_caught_up, write_events

pytestmark = pytest.mark.integration


def _rows(
    conn: psycopg.Connection[Any], table: str, aggregate: UUID
) -> list[tuple[int, int, bytes]]:
    """(notification id, version, state) of one aggregate's events, in version order."""
    return conn.execute(
        f"SELECT notification_id, originator_version, state FROM {table}"  # our table
        " WHERE originator_id = %s ORDER BY originator_version", (aggregate,),
    ).fetchall()  # fmt: skip


def _reseal(
    conn: psycopg.Connection[Any], table: str, the_ledger: Ledger, aggregate: UUID, start: int
) -> list[int]:
    """Renumber and re-seal the aggregate's chain from its ``start``-th event, as a forger would.

    Returns the notification ids rewritten.
    """
    rows = _rows(conn, table, aggregate)
    transcoder = the_ledger.transcoder
    previous = transcoder.decode(rows[start - 1][2])["record"].metadata.hash if start else None
    rewritten = []
    for version, (number, _, state) in enumerate(rows[start:], start=start + 1):
        decoded = transcoder.decode(state)
        record = decoded["record"]
        metadata = record.metadata.model_copy(update={"aggregate_version": version,
                                                      "previous_hash": previous, "hash": None})  # fmt: skip
        decoded["record"] = seal(record.model_copy(update={"metadata": metadata}))
        previous = decoded["record"].metadata.hash
        conn.execute(
            f"UPDATE {table} SET originator_version = %s, state = %s"  # our table
            " WHERE notification_id = %s", (version, transcoder.encode(decoded), number),
        )  # fmt: skip
        rewritten.append(number)
    return rewritten


def _aggregate(conn: psycopg.Connection[Any], table: str) -> UUID:
    """An aggregate with at least three events."""
    found = conn.execute(
        f"SELECT originator_id FROM {table} GROUP BY originator_id"  # our table
        " HAVING count(*) >= 3 ORDER BY originator_id LIMIT 1"
    ).fetchone()
    assert found is not None
    return found[0]  # type: ignore[no-any-return]  # a uuid column


@pytest.mark.parametrize("attack", ["cut", "deleted and re-sealed", "modified and re-sealed"])
def test_store_tampering_by_its_superuser_is_named_by_the_audit(
    isolated: Settings, own_ledger: Ledger, attack: str
) -> None:
    """Each attack leaves every hash chain in the store intact (the chains alone see nothing).

    The audit compares the store with the relay's signed copies and its latest signed
    checkpoint, and names each notification that was cut, deleted or rewritten.
    """
    settings = isolated.model_copy(update={"checkpoint_interval_s": 0.0})
    write_events(own_ledger, proposals=20)
    relay_until_caught_up(settings, own_ledger)
    assert audit_store(settings).findings == []
    table = f"{settings.ledger_name.lower()}_events"
    with psycopg.connect(admin_url(settings), autocommit=True) as conn:
        if attack == "cut":
            last = conn.execute(f"SELECT max(notification_id) FROM {table}").fetchone()
            assert last is not None
            cut = [last[0] - 2, last[0] - 1, last[0]]
            conn.execute(f"DELETE FROM {table} WHERE notification_id >= %s", (cut[0],))
            expected = [f"notification {n} (the relay's signed copy: " for n in cut]
            ends = f"the store ends at notification {cut[0] - 1}, before the checkpoint of"
        else:
            aggregate = _aggregate(conn, table)
            number, _, state = _rows(conn, table, aggregate)[1]
            if attack == "deleted and re-sealed":
                conn.execute(f"DELETE FROM {table} WHERE notification_id = %s", (number,))
                rewritten = _reseal(conn, table, own_ledger, aggregate, 1)
                expected = [f"notification {n} " for n in rewritten]
                expected.append(f"notification {number} (the relay's signed copy: ")
            else:
                decoded = own_ledger.transcoder.decode(state)  # backdated by an hour
                record = decoded["record"]
                when = record.metadata.occurred_at - timedelta(hours=1)
                metadata = record.metadata.model_copy(update={"occurred_at": when})
                decoded["record"] = record.model_copy(update={"metadata": metadata})
                conn.execute(f"UPDATE {table} SET state = %s WHERE notification_id = %s",
                             (own_ledger.transcoder.encode(decoded), number))  # fmt: skip
                rewritten = _reseal(conn, table, own_ledger, aggregate, 1)
                expected = [f"notification {n} " for n in rewritten]
            ends = "do not match the checkpoint of"
    assert chains_only(own_ledger).findings == [], "the forger re-sealed every chain"
    findings = audit_store(settings).findings
    for start in expected:
        assert any(f.startswith(start) for f in findings), (start, findings)
    assert any(ends in f for f in findings), findings
    if attack == "modified and re-sealed":
        assert findings[0].startswith(f"notification {number} "), "the rewritten record first"
