"""A second instance joins a group under load and leaves again: nothing is handled twice with effect.

The decider and the projector keep their positions with their writes and resume there on
every assignment (cooperative-sticky: only the partitions that move are revoked). The
executor is one active instance by lock: its takeover is in test_executor_membership.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
from confluent_kafka import Producer
from psycopg.sql import SQL

from agentledger.bootstrap import decider_service, projection_store, projectors, topic_serdes
from agentledger.settings import Settings
from consumers.observer.records import observation_of
from domain.values import ResourceRef
from infra.connectors.base import Change
from infra.ledger.ledger import Ledger
from infra.partitioner import partition_for
from infra.policy.records import DecisionRecords
from projections.store import Tables
from tests.db_helpers import admin_url
from tests.decider_helpers import produce, proposal, register
from tests.kafka_helpers import as_operator
from tests.projection_helpers import caught_up
from tests.provenance_helpers import owners_headers

ROUNDS, PER_ROUND = 24, 10


class _Instance:
    """A service's ``run`` in a thread, with its own stop event."""

    def __init__(self, run: Callable[[threading.Event], None]) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=run, args=(self.stop,), daemon=True)
        self.thread.start()

    def leave(self) -> None:
        self.stop.set()
        self.thread.join(60)
        assert not self.thread.is_alive(), "the instance did not stop"


def _until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def _under_load(send_round: Callable[[int], None]) -> threading.Thread:
    """Send ``ROUNDS`` rounds, one every 0.4 s, in a thread."""

    def rounds() -> None:
        for number in range(ROUNDS):
            send_round(number)
            time.sleep(0.4)

    thread = threading.Thread(target=rounds, daemon=True)
    thread.start()
    return thread


def test_a_decider_joining_and_leaving_under_load_leaves_each_proposal_decided_once(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """240 proposals on 240 resources while a second decider joins, decides some, and leaves."""
    register(own_ledger, "bot")
    first_service = decider_service(isolated, own_ledger)
    second_service = decider_service(isolated, own_ledger)
    first = _Instance(first_service.run)
    try:
        assert first_service.ready.wait(60)
        load = _under_load(lambda n: produce(isolated, [
            proposal("bot", f"k{n}-{i}", resource={"system": "crm", "type": "contact", "id": f"{n}-{i}"})
            for i in range(PER_ROUND)
        ]))  # fmt: skip
        _until(lambda: first_service.handled >= 3 * PER_ROUND, 60, "the first decider decides")
        second = _Instance(second_service.run)
        _until(lambda: second_service.handled >= PER_ROUND, 60, "the joining decider got work")
        second.leave()
        load.join(60)
        records = DecisionRecords(own_ledger.recorder)  # type: ignore[arg-type]
        _until(lambda: sum(1 for _ in records.all()) >= ROUNDS * PER_ROUND, 120, "all decided")
        time.sleep(2)  # a second decision of anything would land now
    finally:
        first.leave()
    decided = [row.action_id for row, _ in records.all()]
    assert len(decided) == ROUNDS * PER_ROUND
    assert len(set(decided)) == ROUNDS * PER_ROUND
    assert second_service.handled >= PER_ROUND
    assert first_service.handled + second_service.handled >= ROUNDS * PER_ROUND


def test_a_projector_joining_and_leaving_under_load_applies_each_record_once(
    isolated: Settings,
) -> None:
    """240 observations while a second actual-state projector joins and leaves: applied once."""
    serde = topic_serdes(isolated, "observations.v1")["observations.v1"]
    producer = Producer({**as_operator(isolated)})
    now = datetime.now(UTC)

    def send_round(number: int) -> None:
        for i in range(PER_ROUND):
            ref = ResourceRef(system="billing", type="invoice", id=f"{number}-{i}")
            change = Change(
                sequence=number * PER_ROUND + i + 1, resource=ref, version="1",
                fields={"n": number}, deleted=False, changed_at=now,
            )  # fmt: skip
            payload, key = serde.serialize(observation_of("billing", change, now)), ref.key.encode()
            place = partition_for(key, isolated.partitions)
            headers = owners_headers(isolated, "observations.v1", place, key, payload)
            producer.produce(serde.topic, payload, key, partition=place, headers=headers)
        assert producer.flush(30) == 0

    (first_view,) = projectors(isolated, ["actual"])
    (second_view,) = projectors(isolated, ["actual"])
    first = _Instance(first_view.run)
    try:
        assert first_view.ready.wait(60)
        load = _under_load(send_round)
        _until(lambda: first_view.applied >= 3 * PER_ROUND, 60, "the first projector applies")
        second = _Instance(second_view.run)
        _until(lambda: second_view.applied >= PER_ROUND, 60, "the joining projector got work")
        second.leave()
        load.join(60)
        caught_up(isolated, [first_view], timeout_s=120)
    finally:
        first.leave()
    assert first_view.applied + second_view.applied == ROUNDS * PER_ROUND
    assert second_view.applied >= PER_ROUND
    with psycopg.connect(admin_url(isolated)) as conn:
        table = Tables(projection_store(isolated).prefix)("actual_resources")
        (rows,) = conn.execute(SQL("SELECT count(*) FROM {0}").format(table)).fetchone()  # type: ignore[misc]
    assert rows == ROUNDS * PER_ROUND
