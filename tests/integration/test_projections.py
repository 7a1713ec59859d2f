"""Believed and actual state from the topics; a replay rebuilds the same state, atomically."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer

from agentledger.bootstrap import (
    catalog,
    observer,
    projection_store,
    projectors,
    relay,
    replay,
    topic_serdes,
)
from agentledger.settings import Settings
from consumers.observer.records import feed_read, observation_of
from consumers.projector.service import Projector
from domain.events import ExternalStateObserved
from domain.events.decisions import DecisionOutcome
from domain.values import Record, ResourceRef
from infra.connectors.base import Change
from infra.connectors.registry import Connectors
from infra.ledger.ledger import Ledger
from infra.partitioner import partition_for
from infra.serde.deadletter import DeadLetter
from projections import replay as replay_module
from projections.actual import ActualState, actual_state
from projections.believed import believed_state
from projections.registry import projections
from projections.store import Tables
from tests.db_helpers import admin_url
from tests.decider_helpers import read_topic
from tests.execution_helpers import agent, decide, executor, resource
from tests.kafka_helpers import as_operator
from tests.projection_helpers import caught_up, settled
from tests.provenance_helpers import owners_headers

pytestmark = pytest.mark.integration
OBSERVATIONS = "observations.v1"


def test_live_views_match_the_systems_and_a_replay_rebuilds_them_exactly(
    isolated: Settings, own_ledger: Ledger, systems: Connectors
) -> None:
    """Applied changes are believed, observations are actual; replay digests equal the live ones, twice."""
    before = datetime.now(UTC) - timedelta(hours=1)
    agent_id = agent(own_ledger)
    keys = [resource("billing", "invoice") for _ in range(5)] + [
        resource("crm", "contact") for _ in range(5)
    ]
    ids = [
        decide(
            own_ledger, agent_id, key, outcome=DecisionOutcome.ALLOW, parameters={"status": f"s{i}"}
        )
        for i, key in enumerate(keys)
    ]
    run = executor(own_ledger, systems)
    for aid in ids:
        run.execute(aid)
    stop = threading.Event()
    live = projectors(isolated)
    workers = [
        relay(isolated, own_ledger).run,
        observer(isolated, systems).run,
        *(p.run for p in live),
    ]
    threads = [threading.Thread(target=w, args=(stop,), daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    try:
        _until_every_resource_shows(isolated, own_ledger, live, keys)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    store = projection_store(isolated)
    with psycopg.connect(admin_url(isolated)) as conn:
        for index, (key, aid) in enumerate(zip(keys, ids, strict=True)):
            ref = ResourceRef.parse(key)
            believed = believed_state(conn, store.prefix, key)
            assert believed["status"] == (f"s{index}", aid)
            actual = actual_state(conn, store.prefix, key)
            assert actual is not None
            assert actual.external_version == systems[ref.system].current(ref).version
            assert actual.fields["status"] == f"s{index}"
    for projection in projections(["actual", "believed"]):  # no reconciler here: drift is empty
        live_digest = store.digest(projection)
        first = replay(isolated, projection.name, None, lambda _d, _t: None)
        second = replay(isolated, projection.name, None, lambda _d, _t: None)
        assert first.digest == second.digest == live_digest == store.digest(projection)
        assert first.records > 0
        later = replay(
            isolated, projection.name, datetime.now(UTC) + timedelta(hours=1), lambda _d, _t: None
        )
        earlier = replay(isolated, projection.name, before, lambda _d, _t: None)
        assert later.digest == live_digest != earlier.digest
        assert store.digest(projection) == live_digest, (
            "an --as-of rebuild never replaces the live view"
        )
    bare = store.prefix.rpartition(".")[2]
    for _ in range(2):  # each rebuild swaps the timeline's table: its plan index goes with it
        replay(isolated, "timeline", None, lambda _d, _t: None)
        with psycopg.connect(admin_url(isolated)) as conn:
            indexes = {name for (name,) in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = %s",
                (f"{bare}_timeline_events",),
            )}  # fmt: skip
        assert indexes == {f"{bare}_timeline_events_pkey", f"{bare}_timeline_plans"}


def _until_every_resource_shows(
    settings: Settings, the_ledger: Ledger, live: list[Projector], keys: list[str]
) -> None:
    """Wait until the relay and projectors are caught up and both views hold every key.

    Catching up is judged against the topics' ends at that moment: the observer may still
    be polling the systems, so the check repeats until its observations arrived too.
    """
    deadline = time.monotonic() + 120
    while True:
        settled(settings, the_ledger, live)
        with psycopg.connect(admin_url(settings)) as conn:
            prefix = projection_store(settings).prefix
            shown = [
                "status" in believed_state(conn, prefix, key)
                and actual_state(conn, prefix, key) is not None
                for key in keys
            ]
        if all(shown):
            return
        assert time.monotonic() < deadline, f"views still miss {shown.count(False)} resource(s)"
        time.sleep(0.5)


def test_after_fifty_thousand_events_the_replay_digest_equals_the_live_digest(
    isolated: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50,000 observations on 5,000 resources: the live view and its rebuild digest the same.

    Also when the rebuild writes in batches of 1,000 resources: the first fills the empty
    build tables (``COPY``), the later ones apply over them as the live projector does.
    """
    serde = topic_serdes(isolated, "observations.v1")["observations.v1"]
    producer = Producer({**as_operator(isolated), "linger.ms": 20,
                         "enable.idempotence": True})  # fmt: skip
    now = datetime.now(UTC)
    for sequence in range(1, 50_001):
        ref = ResourceRef(system="billing", type="invoice", id=f"big-{sequence % 5000}")
        change = Change(
            sequence=sequence, resource=ref, version=str(sequence),
            fields={"amount": sequence, "status": "sent"}, deleted=False, changed_at=now,
        )  # fmt: skip
        key, place = ref.key.encode(), partition_for(ref.key.encode(), isolated.partitions)
        payload = serde.serialize(observation_of("billing", change, now))
        producer.produce(serde.topic, payload, key, partition=place,
                         headers=owners_headers(isolated, OBSERVATIONS, place, key, payload))  # fmt: skip
        if sequence % 10_000 == 0:
            producer.flush(60)
    assert producer.flush(60) == 0
    live = _caught_up_actual(isolated)
    store = projection_store(isolated)
    rebuilt = replay(isolated, "actual", None, lambda _d, _t: None)
    assert rebuilt.records == 50_000
    assert rebuilt.digest == store.digest(live.projection)
    monkeypatch.setattr(replay_module, "BATCH", 1000)
    batched = replay(isolated, "actual", None, lambda _d, _t: None)
    assert (batched.records, batched.digest) == (50_000, rebuilt.digest)


def test_a_replay_leaves_out_invalid_observations_as_the_live_view_does(
    isolated: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Invalid observations, superseded or the newest of their resource, digest as live.

    The live view dead-letters them. A rebuild validates only the observations it keeps:
    an invalid one superseded by a newer one is never even validated; an invalid one that
    is the newest of its resource makes it read again, validating every record.
    """
    serde = topic_serdes(isolated, "observations.v1")["observations.v1"]
    contract = catalog()["ExternalStateObserved"]
    producer = Producer({**as_operator(isolated)})
    now = datetime.now(UTC)

    def send(name: str, sequence: int, *, valid: bool = True) -> None:
        ref = ResourceRef(system="billing", type="invoice", id=name)
        change = Change(
            sequence=max(sequence, 0), resource=ref, version=str(sequence), fields={"n": sequence},
            deleted=False, changed_at=now,
        )  # fmt: skip
        payload = serde.serialize(observation_of("billing", change, now))
        if not valid:  # decodes, but a change sequence is never negative
            datum = contract.datum(payload, 5)
            datum["change_sequence"] = -1
            payload = payload[:5] + contract._write(datum)  # noqa: SLF001  # the writer, unchecked
        key = ref.key.encode()
        place = partition_for(key, isolated.partitions)
        producer.produce(
            serde.topic, payload, key, partition=place,
            headers=owners_headers(isolated, OBSERVATIONS, place, key, payload),
        )  # fmt: skip

    send("steady", 1)
    send("steady", 2)
    send("superseded", -1, valid=False)
    send("superseded", 3)
    assert producer.flush(30) == 0
    live = _caught_up_actual(isolated)
    assert live.dead_letters == 1
    store = projection_store(isolated)
    with caplog.at_level(logging.WARNING, logger="agentledger.projections"):
        lazy = replay(isolated, "actual", None, lambda _d, _t: None)
    assert (lazy.records, lazy.skipped) == (4, 0), "the superseded one was never validated"
    assert lazy.digest == store.digest(live.projection)
    assert "reading again" not in caplog.text
    cut = replay(isolated, "actual", now + timedelta(hours=1), lambda _d, _t: None)
    assert (cut.digest, cut.skipped, cut.switched) == (lazy.digest, 0, False)
    none = replay(isolated, "actual", now - timedelta(hours=1), lambda _d, _t: None)
    assert none.records == 4
    assert none.digest != lazy.digest, "nothing had happened an hour before"
    send("only-invalid", -1, valid=False)
    assert producer.flush(30) == 0
    live = _caught_up_actual(isolated)
    with caplog.at_level(logging.WARNING, logger="agentledger.projections"):
        again = replay(isolated, "actual", None, lambda _d, _t: None)
    assert "the newest observation of billing/invoice/only-invalid is invalid" in caplog.text
    assert "reading again, validating every record" in caplog.text
    assert (again.records, again.skipped) == (3, 2)
    assert again.digest == store.digest(live.projection)


class _Refusing(ActualState):
    """The actual-state view, failing on any batch that holds resource ``refused``."""

    def apply(self, cur: psycopg.Cursor[Any], t: Tables, records: Sequence[Record]) -> None:
        """Refuse, as a view does a value it cannot store; otherwise apply as the real one."""
        if any(
            isinstance(r, ExternalStateObserved) and r.resource.id == "refused" for r in records
        ):
            raise ValueError("this view cannot take billing/invoice/refused")
        super().apply(cur, t, records)


def test_a_record_the_view_refuses_is_dead_lettered_with_the_error_and_the_rest_applied(
    isolated: Settings,
) -> None:
    """A batch the view refuses goes again record by record; only the refused one is lost.

    It becomes a dead letter carrying the error; the records around it, in the same
    partition and batch, are in the view, and the tracking rows moved past all of them.
    """
    serde = topic_serdes(isolated, "observations.v1")["observations.v1"]
    producer = Producer({**as_operator(isolated)})
    now = datetime.now(UTC)
    refs = [ResourceRef(system="billing", type="invoice", id=n) for n in ("a", "refused", "b")]
    partition = 0  # one partition, one batch: the refused record sits between the others
    for sequence, ref in enumerate(refs, start=1):
        change = Change(sequence=sequence, resource=ref, version="1", fields={"n": sequence},
                        deleted=False, changed_at=now)  # fmt: skip
        payload, key = serde.serialize(observation_of("billing", change, now)), ref.key.encode()
        headers = owners_headers(isolated, OBSERVATIONS, partition, key, payload)
        producer.produce(serde.topic, payload, key, partition=partition, headers=headers)
    assert producer.flush(30) == 0
    live = _caught_up_actual(isolated, _Refusing())
    assert (live.applied, live.dead_letters) == (2, 1)
    with psycopg.connect(admin_url(isolated)) as conn:
        prefix = projection_store(isolated).prefix
        found = {ref.id: actual_state(conn, prefix, ref.key) for ref in refs}
    assert {name: a.fields if a else None for name, a in found.items()} == {
        "a": {"n": 1}, "refused": None, "b": {"n": 3},
    }  # fmt: skip
    (letter,) = read_topic(isolated, "deadletter.v1", until=1)
    assert isinstance(letter, DeadLetter)
    assert letter.error_code == "processing_failed"
    assert letter.error == "ValueError: this view cannot take billing/invoice/refused"
    assert (letter.origin.topic, letter.origin.partition) == (serde.topic, partition)


def _caught_up_actual(settings: Settings, view: ActualState | None = None) -> Projector:
    """A live actual-state projector (of ``view``, if given) run until it has read everything."""
    (live,) = [p for p in projectors(settings) if p.projection.name == "actual"]
    if view is not None:
        live.projection = view
    stop = threading.Event()
    thread = threading.Thread(target=live.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert live.ready.wait(60)
        caught_up(settings, [live], timeout_s=300)
    finally:
        stop.set()
        thread.join(60)
    return live


def test_a_replay_reads_past_what_it_cannot_take_in_runs_as_the_live_view_does(
    isolated: Settings,
) -> None:
    """Junk, a change-feed check and text with a NUL among observations: as live, in order.

    A rebuild takes runs of observations in one call (C); it stops at anything else and
    reads that one as the live projector does: the junk is skipped (the live view
    dead-letters it), a change-feed check is a record that changes nothing here. The
    newest observation's source holds a NUL character, which PostgreSQL cannot store:
    our readers refuse it, so the live projector dead-letters it and goes on, and the
    rebuild, finding its newest observation invalid, reads again and skips it.
    """
    serde = topic_serdes(isolated, "observations.v1")["observations.v1"]
    producer = Producer({**as_operator(isolated)})
    now = datetime.now(UTC)
    ref = ResourceRef(system="billing", type="invoice", id="mixed")
    key = ref.key.encode()
    partition = partition_for(key, isolated.partitions)

    def send(payload: bytes) -> None:
        headers = owners_headers(isolated, OBSERVATIONS, partition, key, payload)
        producer.produce(serde.topic, payload, key, partition=partition, headers=headers)

    for sequence in range(1, 7):
        change = Change(
            sequence=sequence, resource=ref, version=str(sequence), fields={"n": sequence},
            deleted=False, changed_at=now,
        )  # fmt: skip
        send(serde.serialize(observation_of("billing", change, now)))
        if sequence == 2:
            send(b"junk")
        if sequence == 4:
            send(serde.serialize(feed_read("billing", sequence, now, partition)))
    change = Change(sequence=7, resource=ref, version="7", fields={"n": 7}, deleted=False,
                    changed_at=now)  # fmt: skip
    nul = observation_of("billing", change, now).model_copy(update={"source": "bill\x00ing"})
    send(serde.serialize(nul))
    assert producer.flush(30) == 0
    live = _caught_up_actual(isolated)
    assert live.dead_letters == 2
    rebuilt = replay(isolated, "actual", None, lambda _d, _t: None)
    assert (rebuilt.records, rebuilt.skipped) == (7, 2)
    assert rebuilt.digest == projection_store(isolated).digest(live.projection)
    with psycopg.connect(admin_url(isolated)) as conn:
        found = actual_state(conn, projection_store(isolated).prefix, ref.key)
    assert found is not None
    assert (found.external_version, found.fields) == ("6", {"n": 6})
