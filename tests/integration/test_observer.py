"""The observer: one observation per external change, out-of-band edits included, across restarts."""

from __future__ import annotations

import json
import threading

import psycopg
import pytest
from confluent_kafka import Producer

from agentledger.bootstrap import audit_topic, observer
from agentledger.credentials import kafka_access
from agentledger.settings import SYSTEMS_DATABASE, Settings
from agentledger.signing_keys import record_signer, topic_owner
from consumers.observer.chain import ObservationChain
from consumers.observer.positions import ObserverPositions
from domain.events import ExternalStateObserved
from domain.values import ResourceRef
from infra.connectors.base import Mutation, Operation
from infra.connectors.crm_admin import CrmAdmin
from infra.connectors.postgres_sor import PostgresSystemOfRecord
from infra.connectors.registry import Connectors
from infra.kafka_config import client_config
from infra.serde.deadletter import DeadLetter
from infra.topics import topic_spec
from tests.db_helpers import admin_url
from tests.decider_helpers import read_topic
from tests.execution_helpers import resource

pytestmark = pytest.mark.integration


def _changes(systems: Connectors, settings: Settings, round_: str) -> list[ResourceRef]:
    """Governed writes and human edits on both systems; the resources touched."""
    billing, crm = (
        ResourceRef.parse(resource("billing", "invoice")),
        ResourceRef.parse(resource("crm", "contact")),
    )
    for ref in (billing, crm):
        for step in range(3):
            mutation = Mutation(ref, Operation.UPSERT, {"step": step})
            systems[ref.system].apply(mutation, f"{round_}-{ref.key}-{step}", None)
    sor = systems["billing"]
    assert isinstance(sor, PostgresSystemOfRecord)
    sor.edit_out_of_band(billing, {"note": "typed in psql"})
    admin = CrmAdmin(settings.crm)
    try:
        admin.edit(crm, {"note": "typed in the CRM's UI"})
        admin.drop_writes(enabled=True)
        systems["crm"].apply(
            Mutation(crm, Operation.UPSERT, {"lost": True}), f"{round_}-lost", None
        )
    finally:
        admin.drop_writes(enabled=False)
        admin.close()
    return [billing, crm]


def _run_observer(
    settings: Settings, systems: Connectors
) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    the_observer = observer(settings, systems)
    thread = threading.Thread(target=the_observer.run, args=(stop,), daemon=True)
    thread.start()
    assert the_observer.ready.wait(60), "observer did not start"
    return stop, thread


def _letters_for(settings: Settings, ref: ResourceRef) -> list[DeadLetter]:
    """The observer's dead letters about ``ref`` so far."""
    return [
        r for r in read_topic(settings, "deadletter.v1", until=10**7, timeout_s=3)
        if isinstance(r, DeadLetter) and r.key == ref.key.encode()
    ]  # fmt: skip


def _observed(
    settings: Settings, refs: list[ResourceRef], expected: int
) -> list[ExternalStateObserved]:
    found: list[ExternalStateObserved] = []
    for _ in range(30):
        found = [
            r for r in read_topic(settings, "observations.v1", until=10**7, timeout_s=3)
            if isinstance(r, ExternalStateObserved) and r.resource in refs
        ]  # fmt: skip
        if len(found) >= expected:
            break
    return found


def test_every_change_is_observed_once_across_a_restart(
    isolated: Settings, systems: Connectors
) -> None:
    """4 changes per resource (3 writes, 1 human edit; the dropped write is no change), none twice.

    The restarted observer finds a stale chain among its positions: it takes each
    partition's chain up where its own signed records end, so no chain forks.
    """
    stop, thread = _run_observer(isolated, systems)
    first = _changes(systems, isolated, "a")
    assert len(_observed(isolated, first, 8)) == 8
    stop.set()
    thread.join(60)
    _save_a_stale_chain(isolated)
    second = _changes(systems, isolated, "b")
    stop, thread = _run_observer(isolated, systems)
    try:
        observed = _observed(isolated, first + second, 16)
    finally:
        stop.set()
        thread.join(60)
    assert len(observed) == 16
    assert len({(o.source, o.change_sequence) for o in observed}) == 16
    for ref in first + second:
        mine = [o for o in observed if o.resource == ref]
        assert [o.fields.get("step") for o in mine[:3]] == [0, 1, 2]
        assert "note" in mine[-1].fields
        assert "lost" not in mine[-1].fields
        assert mine[-1].external_version == systems[ref.system].current(ref).version
    audit = audit_topic(isolated, "observations.v1")
    assert audit.findings == [], "the restarted observer went on with its chains, not the stale"


def _save_a_stale_chain(settings: Settings) -> None:
    """The observer's chain as if nothing had been observed (a stale or reset position)."""
    owner = topic_owner(settings, topic_spec("observer-positions.v1"))
    assert owner is not None
    positions = ObserverPositions(
        kafka_access(settings, "observer"), owner, settings.ledger_name,
        record_signer(settings, "observer"),
    )  # fmt: skip
    producer = Producer(client_config(kafka_access(settings, "observer"), {}))
    positions.write_chain(producer, ObservationChain())
    assert producer.flush(30) == 0


def test_a_change_too_large_to_publish_is_dead_lettered_and_the_feed_goes_on(
    isolated: Settings, systems: Connectors
) -> None:
    """A 1.2 MB field makes an observation over the record limit: it becomes a dead letter.

    The letter holds the change as JSON and the reason, at the feed's position; the
    change after it is observed. (The observer used to restart on it, forever, and no
    feed moved.)
    """
    big, small = (ResourceRef.parse(resource("billing", "invoice")) for _ in range(2))
    billing = systems["billing"]
    billing.apply(Mutation(big, Operation.UPSERT, {"blob": "x" * 1_200_000}), f"big-{big.id}", None)
    billing.apply(Mutation(small, Operation.UPSERT, {"n": 1}), f"small-{small.id}", None)
    stop, thread = _run_observer(isolated, systems)
    try:
        observed = _observed(isolated, [small], 1)
        letters = _letters_for(isolated, big)
    finally:
        stop.set()
        thread.join(60)
    assert [o.fields for o in observed] == [{"n": 1}]
    (letter,) = letters
    assert (letter.consumer, letter.error_code) == ("observer", "payload_too_large")
    assert letter.origin.topic == "feed:billing"
    change = json.loads(letter.payload or b"")
    assert (change["resource"], change["sequence"]) == (big.key, letter.origin.offset)
    assert change["fields"] == {"blob": "x" * 1_200_000}


def test_an_observer_position_it_did_not_sign_is_passed_over(isolated: Settings) -> None:
    """A position written with the observer's stolen Kafka credential cannot make it skip changes."""
    topic = isolated.topic("observer-positions.v1")
    owner = topic_owner(isolated, topic_spec("observer-positions.v1"))
    assert owner is not None
    positions = ObserverPositions(
        kafka_access(isolated, "observer"), owner, isolated.ledger_name,
        record_signer(isolated, "observer"),
    )  # fmt: skip
    producer = Producer(client_config(kafka_access(isolated, "observer"), {}))
    positions.write(producer, "crm", 7)
    producer.produce(topic, key=f"{isolated.ledger_name}:crm".encode(),
                     value=json.dumps({"sequence": 10**12}).encode(), partition=0)  # fmt: skip
    assert producer.flush(30) == 0
    assert positions.load()[0] == {"crm": 7}


def test_a_change_whose_sequence_jumps_is_held_and_flagged_and_later_changes_are_observed(
    isolated: Settings, systems: Connectors
) -> None:
    """The billing database's superuser writes a change 5000 past the feed's last, by hand.

    Observed, it would move the observer's position past every genuine change to come
    (they were never read again). Its number is beyond what the feed's own sequence handed
    out, so it is held instead: one dead letter ``sequence_jump`` with the change and the
    reason; the genuine changes before and after it are observed.
    """
    before, after, later = (ResourceRef.parse(resource("billing", "invoice")) for _ in range(3))
    billing = systems["billing"]
    billing.apply(Mutation(before, Operation.UPSERT, {"n": 1}), f"before-{before.id}", None)
    forged = ResourceRef.parse(resource("billing", "invoice"))
    with psycopg.connect(admin_url(isolated, SYSTEMS_DATABASE), autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO changes (seq, type, id, version, fields, deleted)"
            " SELECT max(seq) + 5000, %s, %s, 1, '{}', false FROM changes RETURNING seq",
            (forged.type, forged.id),
        ).fetchone()
        assert row is not None
        try:
            billing.apply(Mutation(after, Operation.UPSERT, {"n": 2}), f"after-{after.id}", None)
            stop, thread = _run_observer(isolated, systems)
            try:
                assert len(_observed(isolated, [before, after], 2)) == 2
                billing.apply(
                    Mutation(later, Operation.UPSERT, {"n": 3}), f"later-{later.id}", None
                )
                observed = _observed(isolated, [before, after, later, forged], 3)
                letters = _letters_for(isolated, forged)
            finally:
                stop.set()
                thread.join(60)
        finally:  # the feed is shared: its own sequence would reach the forged one
            conn.execute("DELETE FROM changes WHERE seq = %s", (row[0],))
    assert sorted(o.resource.key for o in observed) == sorted(r.key for r in (before, after, later))
    (letter,) = letters
    assert (letter.consumer, letter.error_code) == ("observer", "sequence_jump")
    assert (letter.origin.topic, letter.origin.offset) == ("feed:billing", row[0])
    assert f"change {row[0]} of the billing feed is numbered beyond the" in letter.error
