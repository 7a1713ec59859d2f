"""Cutting, deleting, rewriting or extending the store as its superuser is named, and never relayed.

The superuser can compute every sha256 chain, but not the ledger's seal (its key is not in
the database): whatever they write is refused by every reader and named by the audit.
"""

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
from infra.ledger.seal import TAG_BYTES, TamperedEvent
from infra.serde.deadletter import DeadLetter
from tests.db_helpers import admin_url
from tests.decider_helpers import read_topic
from tests.relay_helpers import consume_all, relay_until_caught_up, stored, write_events

pytestmark = pytest.mark.integration


def _rows(
    conn: psycopg.Connection[Any], table: str, aggregate: UUID
) -> list[tuple[int, int, bytes]]:
    """(notification id, version, state) of one aggregate's events, in version order.

    The forger knows the format: the seal's tag (which they cannot compute) is cut off.
    """
    rows = conn.execute(
        f"SELECT notification_id, originator_version, state FROM {table}"  # our table
        " WHERE originator_id = %s ORDER BY originator_version", (aggregate,),
    ).fetchall()  # fmt: skip
    return [(number, version, bytes(state)[:-TAG_BYTES]) for number, version, state in rows]


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
            " WHERE notification_id = %s",
            (version, transcoder.encode(decoded) + bytes(TAG_BYTES), number),
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
                             (own_ledger.transcoder.encode(decoded) + bytes(TAG_BYTES), number))  # fmt: skip
                rewritten = _reseal(conn, table, own_ledger, aggregate, 1)
                expected = [f"notification {n} " for n in rewritten]
            ends = "do not match the checkpoint of"
    unchained = [f for f in chains_only(own_ledger).findings if "the ledger's key" not in f]
    assert unchained == [], "the forger re-sealed every sha256 chain: only the seals tell"
    findings = audit_store(settings).findings
    for start in expected:
        assert any(f.startswith(start) for f in findings), (start, findings)
    assert any(ends in f for f in findings), findings
    if attack == "modified and re-sealed":
        assert findings[0].startswith(f"notification {number} "), "the rewritten record first"


def test_an_event_the_superuser_appends_with_a_valid_chain_is_never_relayed_or_loaded(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """The forger appends the next event of an aggregate, its sha256 chain computed to follow.

    Without the seal it is dead-lettered by the relay (code ``tampered``) instead of being
    signed and published, loading the aggregate fails naming it, and the audit names it.
    """
    write_events(own_ledger, proposals=6)
    table = f"{isolated.ledger_name.lower()}_events"
    with psycopg.connect(admin_url(isolated), autocommit=True) as conn:
        aggregate = _aggregate(conn, table)
        number, version, state = _rows(conn, table, aggregate)[-1]
        topic = conn.execute(
            f"SELECT topic FROM {table} WHERE notification_id = %s",
            (number,),  # our table
        ).fetchone()
        assert topic is not None
        decoded = own_ledger.transcoder.decode(state)
        record = decoded["record"]
        metadata = record.metadata.model_copy(update={
            "aggregate_version": version + 1, "previous_hash": record.metadata.hash, "hash": None,
        })  # fmt: skip
        decoded["record"] = seal(record.model_copy(update={"metadata": metadata}))
        forged = conn.execute(
            f"INSERT INTO {table} (originator_id, originator_version, topic, state)"  # our table
            " VALUES (%s, %s, %s, %s) RETURNING notification_id",
            (aggregate, version + 1, topic[0], own_ledger.transcoder.encode(decoded) + bytes(32)),
        ).fetchone()
        assert forged is not None
    refused = (
        f"notification {forged[0]} (aggregate {aggregate} v{version + 1}): its seal does not"
        " match: written or modified without the ledger's key"
    )
    assert chains_only(own_ledger).findings == [refused]
    relay_until_caught_up(isolated, own_ledger)
    genuine = [n for n, _ in stored(own_ledger) if n != forged[0]]
    relayed = consume_all(isolated, len(genuine) + 1, timeout_s=8)  # all committed by now
    assert sorted(r.notification_id for r in relayed) == genuine, "the forged event was relayed"
    (letter,) = read_topic(isolated, "deadletter.v1", until=1)
    assert isinstance(letter, DeadLetter)
    assert letter.error_code == "tampered"
    assert f"notification {forged[0]}" in letter.error
    with pytest.raises(TamperedEvent, match=f"{aggregate} v{version + 1}"):
        own_ledger.repository.get(aggregate)
    with pytest.raises(TamperedEvent, match=f"{aggregate} v{version + 1}"):
        own_ledger.load_many([aggregate])  # the decider's batched read
    assert audit_store(isolated).findings == [refused]


def test_a_row_renumbered_beyond_the_stores_sequence_is_never_relayed_and_is_named(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """The superuser moves a genuine, sealed, unrelayed row far up the notification ids.

    The relay used to take it and move its position there: every later event (numbered
    below it by the sequence) was never relayed. It reads only up to the sequence's last
    value now, and the audit names the row.
    """
    write_events(own_ledger, proposals=4)
    far = 10**12
    table = f"{isolated.ledger_name.lower()}_events"
    with psycopg.connect(admin_url(isolated), autocommit=True) as conn:
        conn.execute(
            f"UPDATE {table} SET notification_id = %s"  # our table
            f" WHERE notification_id = (SELECT max(notification_id) FROM {table})", (far,),
        )  # fmt: skip
    write_events(own_ledger, proposals=4, first=4)
    head = own_ledger.notifications_head()
    assert head is not None
    relay_until_caught_up(isolated, own_ledger, target=head)
    genuine = [n for n, _ in stored(own_ledger) if n != far]
    relayed = consume_all(isolated, len(genuine) + 1, timeout_s=8)  # all committed by now
    assert sorted(r.notification_id for r in relayed) == genuine
    findings = audit_store(isolated).findings
    assert any(f.startswith(f"notification {far} is numbered beyond the {head}") for f in findings)
