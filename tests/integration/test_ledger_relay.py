"""The ledger on real PostgreSQL and the relay on real Kafka: exact delivery, tamper evidence."""

from __future__ import annotations

import base64
import os
import threading
import time
import uuid

import psycopg
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from agentledger.bootstrap import (
    audit_store,
    audit_topic,
    catalog,
    ledger,
    registry_client,
    relay,
    relay_positions,
    system_context,
)
from agentledger.settings import Settings
from agentledger.signing_keys import record_signer
from consumers.relay.position import Position
from consumers.relay.position_check import PositionRefused
from domain.events import ActionProposed
from infra.ledger.ledger import Ledger
from infra.serde.deadletter import DeadLetter
from infra.serde.topic_serde import TopicSerde
from tests.db_helpers import admin_url
from tests.decider_helpers import proposal, read_topic
from tests.kafka_helpers import as_operator
from tests.relay_helpers import (
    assert_exactly_the_store,
    consume_all,
    relay_until_caught_up,
    stored,
    write_events,
)

pytestmark = pytest.mark.integration


def test_relayed_topics_equal_the_store(isolated: Settings, own_ledger: Ledger) -> None:
    """Save -> relay -> consume: every stored record once, keyed by resource or agent, in store order per key."""
    write_events(own_ledger, proposals=300)
    relay_until_caught_up(isolated, own_ledger)
    expected = len(stored(own_ledger))
    assert_exactly_the_store(own_ledger, consume_all(isolated, expected))


def _forge_position(settings: Settings, the_ledger: Ledger, *, signed: bool) -> None:
    """A position past the unrelayed events, with the relay's chain heads (signed: with its key)."""
    topic = settings.topic("relay-positions.v1")
    genuine = relay_positions(settings, the_ledger.name).load()
    forged = Position(the_ledger.recorder.max_notification_id() or 0, genuine.chains)
    key, value = the_ledger.name.encode(), forged.encode()
    signature = record_signer(settings, "relay").headers(topic, 0, key, value)
    headers: list[tuple[str, str | bytes | None]] = [*signature] if signed else []
    producer = Producer({**as_operator(settings)})
    producer.produce(topic, key=key, value=value, partition=0, headers=headers)
    assert producer.flush(30) == 0


def test_a_relay_position_it_did_not_sign_is_passed_over_and_nothing_is_skipped(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """A position written with the relay's stolen Kafka credential only: it follows its own, relays all once."""
    write_events(own_ledger, proposals=20)
    relay_until_caught_up(isolated, own_ledger)
    write_events(own_ledger, proposals=20, first=20)
    _forge_position(isolated, own_ledger, signed=False)
    relay_until_caught_up(isolated, own_ledger)
    assert_exactly_the_store(own_ledger, consume_all(isolated, len(stored(own_ledger))))


def test_a_forged_relay_position_is_refused_and_nothing_is_skipped(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """A position signed with the relay's stolen key, past unrelayed events: refused, nothing skipped."""
    write_events(own_ledger, proposals=20)
    relay_until_caught_up(isolated, own_ledger)
    on_topics = len(stored(own_ledger))
    write_events(own_ledger, proposals=20, first=20)
    _forge_position(isolated, own_ledger, signed=True)
    the_relay, stop, refusals = relay(isolated, own_ledger), threading.Event(), []

    def run() -> None:
        try:
            the_relay.run(stop)
        except PositionRefused as exc:
            refusals.append(str(exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while thread.is_alive() and not the_relay.active.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    followed = the_relay.active.is_set()
    stop.set()
    thread.join(30)
    assert not followed, "it followed the forged position"
    assert len(refusals) == 1
    assert "were never relayed: following it would skip" in refusals[0]
    assert len(consume_all(isolated, on_topics)) == on_topics


def test_a_second_relay_run_adds_only_new_events(isolated: Settings, own_ledger: Ledger) -> None:
    """After a clean stop, the next relay resumes at its committed position: nothing twice."""
    write_events(own_ledger, proposals=50)
    relay_until_caught_up(isolated, own_ledger)
    write_events(own_ledger, proposals=50, first=50)
    relay_until_caught_up(isolated, own_ledger)
    assert_exactly_the_store(own_ledger, consume_all(isolated, len(stored(own_ledger))))


def _tamper(settings: Settings, sql: str) -> None:
    with psycopg.connect(admin_url(settings), autocommit=True) as conn:
        conn.execute(sql.format(table=f"{settings.ledger_name.lower()}_events"))


MIDDLE = "(SELECT originator_id FROM {table} GROUP BY originator_id HAVING count(*) >= 3 ORDER BY originator_id LIMIT 1)"


def test_a_stored_record_too_large_for_any_consumer_is_relayed_as_a_dead_letter(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """A 1.2 MB event becomes a dead letter in its batch's transaction; the rest is relayed.

    The broker would refuse the batch holding it (the relay aborted and read it again,
    forever, and nothing after it was relayed); every consumer would refuse it anyway.
    """
    write_events(own_ledger, proposals=5)
    blob = base64.b64encode(os.urandom(900_000)).decode()  # 1.2 MB, hardly compressible
    big = proposal("agent-0", "big", parameters={"blob": blob})
    with own_ledger.batch(system_context()) as tx:
        tx.propose(big)
    big_id = own_ledger.recorder.max_notification_id()
    write_events(own_ledger, proposals=5, first=5)
    relay_until_caught_up(isolated, own_ledger)
    everything = stored(own_ledger)
    relayed = consume_all(isolated, len(everything) - 1)
    assert sorted(r.notification_id for r in relayed) == [n for n, _ in everything if n != big_id]
    (letter,) = read_topic(isolated, "deadletter.v1", until=1)
    assert isinstance(letter, DeadLetter)
    assert (letter.error_code, letter.consumer) == ("payload_too_large", f"relay:{own_ledger.name}")
    assert (letter.origin.topic, letter.origin.offset) == (isolated.topic("actions.v1"), big_id)
    roomy = TopicSerde(isolated.topic("actions.v1"), [catalog()["ActionProposed"]],
                       registry_client(isolated), max_bytes=len(letter.payload or b""))  # fmt: skip
    record = roomy.deserialize(letter.payload)
    assert isinstance(record, ActionProposed)
    assert record.parameters == {"blob": blob}


@pytest.mark.parametrize(
    ("sql", "finding"),
    [
        (("UPDATE {table} SET state = overlay(state placing '\\x58'::bytea from length(state) - 2 for 1) "
         f"WHERE originator_id = {MIDDLE} AND originator_version = 2"), "modified"),
        (f"DELETE FROM {{table}} WHERE originator_id = {MIDDLE} AND originator_version = 2", "deleted"),
        ((f"UPDATE {{table}} SET originator_version = 1000 WHERE originator_id = {MIDDLE} AND originator_version = 2;"
          f"UPDATE {{table}} SET originator_version = 2 WHERE originator_id = {MIDDLE} AND originator_version = 3;"
          f"UPDATE {{table}} SET originator_version = 3 WHERE originator_id = {MIDDLE} AND originator_version = 1000"),
         "without the ledger's key"),  # each seal binds the event's version
    ],
    ids=["modified", "deleted", "reordered"],
)  # fmt: skip
def test_store_audit_finds_the_first_broken_link(
    isolated: Settings, sql: str, finding: str
) -> None:
    """A modified, deleted or reordered event in the store is reported with its position."""
    write_events(ledger(isolated), proposals=20)
    assert audit_store(isolated).broken is None
    _tamper(isolated, sql)
    result = audit_store(isolated)
    assert result.broken is not None
    assert finding in result.broken
    assert "notification" in result.broken


def _copy(settings: Settings, source: str, edit: str) -> str:
    """Copy one partition of ``source`` into a new topic, changing one record as ``edit`` says."""
    consumer = Consumer(
        {
            **as_operator(settings),
            "group.id": str(uuid.uuid4()),
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([source])
    messages = []
    idle = 0
    while idle < 2:
        batch = [m for m in consumer.consume(1000, timeout=1.0) if m.error() is None]
        messages += batch
        idle = 0 if batch or not messages else idle + 1
    consumer.close()
    partition = max(
        {m.partition() for m in messages}, key=lambda p: sum(m.partition() == p for m in messages)
    )
    rows = [(m.key(), m.value(), m.headers()) for m in messages if m.partition() == partition]
    assert len(rows) >= 4
    if edit == "modified":
        key, value, headers = rows[2]
        rows[2] = (key, (value or b"")[:-1] + b"X", headers)
    elif edit == "deleted":
        del rows[2]
    elif edit == "reordered":
        rows[1], rows[2] = rows[2], rows[1]
    target = f"{settings.topic_prefix}copy.{edit}.{uuid.uuid4().hex[:6]}"
    admin = AdminClient({**as_operator(settings)})
    for future in admin.create_topics([NewTopic(target, 1, 1)]).values():
        future.result(30)
    producer = Producer({**as_operator(settings)})
    for key, value, headers in rows:
        producer.produce(target, key=key, value=value, headers=headers)
    assert producer.flush(30) == 0
    return target


@pytest.mark.parametrize("edit", ["modified", "deleted", "reordered"])
def test_topic_audit_finds_the_first_broken_link(
    isolated: Settings, own_ledger: Ledger, edit: str
) -> None:
    """On a copy of a relayed partition, a modified, deleted or reordered record breaks the chain there."""
    write_events(own_ledger, proposals=60)
    relay_until_caught_up(isolated, own_ledger)
    assert audit_topic(isolated, "actions.v1").broken is None
    result = audit_topic(isolated, _copy(isolated, isolated.topic("actions.v1"), edit))
    assert result.broken is not None
    assert "offset 2" in result.broken if edit != "reordered" else "offset 1" in result.broken
    assert (
        ("modified" in result.broken)
        if edit == "modified"
        else ("deleted, inserted or reordered" in result.broken)
    )
