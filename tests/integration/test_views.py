"""The approval queue and action timelines from actions.v1, their replays, CLI, and dead letters."""

from __future__ import annotations

import json
from uuid import UUID

import psycopg
import pytest
from confluent_kafka import KafkaError, Message, Producer

from agentledger.bootstrap import (
    context_at,
    decider,
    decision_records,
    projection_store,
    replay,
    topic_serdes,
)
from agentledger.settings import Settings
from agentledger.signing_keys import record_signer
from consumers.decider.intake import Consumed
from consumers.executor.executor import Outcome
from consumers.expirer.expirer import Expirer
from domain.events import DomainEvent
from domain.ids import action_id, lease_id
from domain.values import ResourceRef
from infra.connectors.base import Mutation, Operation
from infra.connectors.registry import Connectors
from infra.ledger.ledger import Ledger
from infra.ledger.side_tables import policy_inputs_table
from infra.partitioner import partition_for
from infra.serde.deadletter import DeadLetter
from projections.approvals import approval_queue
from projections.registry import projections
from projections.timeline import action_timeline
from tests.conftest import run_cli
from tests.db_helpers import admin_url
from tests.decider_helpers import proposal, read_topic
from tests.execution_helpers import ALICE, BOB, Clock, agent, decide, desk, executor, resource
from tests.kafka_helpers import as_operator
from tests.projection_helpers import projecting, settled

pytestmark = pytest.mark.integration
VIEWS = ("approvals", "timeline")


def _seed(systems: Connectors, key: str) -> None:
    """Create the resource in its system, so approvers can read its version."""
    ref = ResourceRef.parse(key)
    systems[ref.system].apply(Mutation(ref, Operation.UPSERT, {"tier": "silver"}), key, None)


def _decided(settings: Settings, the_ledger: Ledger, agent_id: str, key: str) -> UUID:
    """An action decided by the real decider (its policy input recorded); its id."""
    serde = topic_serdes(settings, "proposals.v1")["proposals.v1"]
    ref = ResourceRef.parse(key).model_dump()
    record = proposal(agent_id, f"k-{key}", resource=ref, parameters={"tier": "gold"})
    consumed = Consumed(serde.topic, 0, 0, key.encode(), serde.serialize(record), {})
    decider(settings, the_ledger).handle([consumed])
    return action_id(agent_id, f"k-{key}")


def _event_ids(the_ledger: Ledger, aggregate: UUID) -> list[UUID]:
    """The ids of an aggregate's events, oldest first."""
    records = [getattr(e, "record", e) for e in the_ledger.events.get(aggregate)]
    return [r.metadata.event_id for r in records if isinstance(r, DomainEvent)]


def _store_order(the_ledger: Ledger, aggregates: list[UUID]) -> list[UUID]:
    """The event ids of ``aggregates`` in the order the ledger stored them."""
    ids: dict[tuple[UUID, int], UUID] = {}
    for aggregate in aggregates:
        for event in the_ledger.events.get(aggregate):
            record = getattr(event, "record", None)
            if isinstance(record, DomainEvent):
                ids[(aggregate, event.originator_version)] = record.metadata.event_id
    order, start = [], 1
    while page := the_ledger.recorder.select_notifications(start=start, limit=5000):
        order += [ids[key] for n in page if (key := (n.originator_id, n.originator_version)) in ids]
        start = page[-1].id + 1
    return order


def _env(settings: Settings) -> dict[str, str]:
    return {
        "AGENTLEDGER_LEDGER_NAME": settings.ledger_name,
        "AGENTLEDGER_TOPIC_PREFIX": settings.topic_prefix,
    }


def test_the_queue_and_timelines_mirror_the_ledger_and_replay_to_the_live_digest(
    isolated: Settings, own_ledger: Ledger, systems: Connectors
) -> None:
    """Pending, approved, rejected, expired and revoked requests match the ledger; a decision carries its input."""
    agent_id = agent(own_ledger)
    names = ("pending", "approved", "rejected", "expired", "revoked", "decided")
    keys = {name: resource("crm", "contact") for name in names}
    for key in keys.values():
        _seed(systems, key)
    aids = {
        name: decide(own_ledger, agent_id, keys[name], roles=["security"],
                     approvals=2 if name == "pending" else 1, ttl=60 if name == "expired" else 600)
        for name in names[:-1]
    }  # fmt: skip
    aids["decided"] = _decided(isolated, own_ledger, agent_id, keys["decided"])
    the_desk = desk(own_ledger, systems)
    for name in ("pending", "approved", "revoked", "decided"):
        the_desk.approve(ALICE, aids[name])
    the_desk.reject(BOB, aids["rejected"], "not <b>now</b> [red]")
    the_desk.revoke(BOB, aids["revoked"], "changed my mind")
    clock = Clock()
    clock.advance(61)
    assert Expirer(own_ledger, clock, context_at).run_once() == [aids["expired"]]
    assert executor(own_ledger, systems).execute(aids["decided"]) is Outcome.APPLIED
    with projecting(isolated, own_ledger, *VIEWS) as live:
        settled(isolated, own_ledger, live)
    store = projection_store(isolated)
    index = own_ledger.approvals
    assert index is not None
    with psycopg.connect(admin_url(isolated)) as conn:
        [queued] = approval_queue(conn, store.prefix)
        every = {q.action_id: q for q in approval_queue(conn, store.prefix, state=None)}
        timeline = action_timeline(
            conn,
            store.prefix,
            aids["decided"],
            inputs_table=policy_inputs_table(isolated.ledger_name),
        )
    assert (queued.action_id, queued.approved_by, queued.approvals_required) == (
        aids["pending"], ["alice"], 2,
    )  # fmt: skip
    assert (queued.agent_id, queued.resource_key, queued.parameters) == (
        agent_id, keys["pending"], {"tier": "gold"},
    )  # fmt: skip
    assert set(every) == set(aids.values())
    for name, aid in aids.items():
        row, ledger_row = every[aid], index.get(aid)
        assert ledger_row is not None
        assert row.state == ledger_row.state == ("pending" if name == "pending" else {
            "rejected": "rejected", "expired": "expired", "revoked": "revoked",
        }.get(name, "approved")), name  # fmt: skip
        assert (row.approved_by, row.requested_at, row.closed_at) == (
            ledger_row.approved_by, ledger_row.requested_at, ledger_row.closed_at,
        ), name  # fmt: skip
    expected = _event_ids(own_ledger, aids["decided"])
    assert [e.event_id for e in timeline if e.event_id in expected] == expected
    assert {e.event_id for e in timeline} == {
        *expected,
        *_event_ids(own_ledger, lease_id(keys["decided"])),
    }
    lease = lease_id(keys["decided"])
    assert [e.event_id for e in timeline] == _store_order(own_ledger, [aids["decided"], lease])
    assert [e.event for e in timeline][:3] == [
        "ActionProposed",
        "PolicyDecided",
        "ApprovalRequested",
    ]
    assert "MutationApplied" in [e.event for e in timeline]
    [decision] = [e for e in timeline if e.event == "PolicyDecided"]
    recorded = decision_records(own_ledger).decision(aids["decided"])
    assert recorded is not None
    assert decision.input_digest == recorded[0].input_digest
    assert decision.input
    assert decision.input == recorded[1].document
    for projection in projections(list(VIEWS)):
        live_digest = store.digest(projection)
        rebuilt = replay(isolated, projection.name, None, lambda _d, _t: None)
        assert rebuilt.digest == live_digest == store.digest(projection), projection.name


def test_queue_and_timeline_commands_read_the_views(
    isolated: Settings, own_ledger: Ledger, systems: Connectors
) -> None:
    """`agentledger queue` lists the pending request; `timeline --inputs` prints its events and decision input."""
    agent_id = agent(own_ledger)
    key = resource("crm", "contact")
    _seed(systems, key)
    aid = _decided(isolated, own_ledger, agent_id, key)
    with projecting(isolated, own_ledger, *VIEWS) as live:
        settled(isolated, own_ledger, live)
    queue = run_cli("queue", env=_env(isolated))
    assert queue.returncode == 0, queue.stderr
    assert str(aid) in queue.stdout
    assert "0/1" in queue.stdout
    shown = run_cli("timeline", str(aid), "--inputs", env=_env(isolated))
    assert shown.returncode == 0, shown.stderr
    for event in ("ActionProposed", "PolicyDecided", "ApprovalRequested"):
        assert event in shown.stdout
    recorded = decision_records(own_ledger).decision(aid)
    assert recorded is not None
    assert f"PolicyDecided input {recorded[0].input_digest}:" in shown.stdout
    assert json.dumps(recorded[1].document, indent=2, sort_keys=True) in shown.stdout
    unknown = run_cli("timeline", str(lease_id(key)), env=_env(isolated))
    assert unknown.returncode == 1
    assert "no events" in unknown.stderr


def test_an_unreadable_record_is_dead_lettered_and_the_projector_goes_on(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """Garbage on actions.v1 (signed, as by a broken relay) is dead-lettered with its reason; a later event is projected."""
    key = resource("crm", "contact")
    topic = isolated.topic("actions.v1")
    partition = partition_for(key.encode(), isolated.partitions)
    where: list[Message] = []

    def delivered(error: KafkaError | None, message: Message) -> None:
        assert error is None, error
        where.append(message)

    producer = Producer({**as_operator(isolated)})
    # signed with the relay's key, off its chain (so no relay takes it for its own last record)
    signature = record_signer(isolated, "relay").headers(
        topic, partition, key.encode(), b"not avro"
    )
    headers: list[tuple[str, str | bytes | None]] = [*signature]
    producer.produce(topic, b"not avro", key.encode(), partition=partition, headers=headers,
                     on_delivery=delivered)  # fmt: skip
    assert producer.flush(30) == 0
    offset = where[0].offset()
    aid = decide(own_ledger, agent(own_ledger), key)
    with projecting(isolated, own_ledger, "timeline") as live:
        settled(isolated, own_ledger, live)
        [letter] = read_topic(isolated, "deadletter.v1", until=1)
    assert live[0].dead_letters == 1
    assert isinstance(letter, DeadLetter)
    assert (letter.origin.topic, letter.origin.partition, letter.origin.offset) == (
        topic, partition, offset,
    )  # fmt: skip
    assert (letter.payload, letter.error_code) == (b"not avro", "not_confluent_avro")
    assert letter.error
    assert letter.consumer == f"{isolated.topic_prefix}projector.timeline"
    store = projection_store(isolated)
    with psycopg.connect(admin_url(isolated)) as conn:
        events = [e.event for e in action_timeline(conn, store.prefix, aid)]
    assert events[:2] == ["ActionProposed", "PolicyDecided"]
