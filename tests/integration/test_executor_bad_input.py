"""The executor never stalls on bad input: garbage on actions.v1 becomes a dead letter."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from confluent_kafka import Producer

from agentledger.bootstrap import topic_serdes
from agentledger.services import services
from agentledger.settings import Settings
from domain.action_state import Status
from domain.events import ActionProposed, CompensationProposed
from domain.events.decisions import DecisionOutcome
from domain.ids import action_id, compensation_key
from infra.connectors.registry import Connectors
from infra.ledger.ledger import Ledger
from infra.partitioner import partition_for
from infra.serde.deadletter import DeadLetter
from projections.registry import PROJECTIONS
from tests.decider_helpers import read_topic
from tests.execution_helpers import agent, decide, resource
from tests.kafka_helpers import as_operator
from tests.provenance_helpers import owners_headers
from tests.service_helpers import wait_status

pytestmark = pytest.mark.integration


def test_garbage_is_dead_lettered_and_the_next_action_still_runs(
    isolated: Settings, own_ledger: Ledger, systems: Connectors
) -> None:
    """Random bytes before an Authorized: a dead letter from each reader of actions.v1, then the action runs."""
    projecting = [name for name, view in PROJECTIONS.items() if "actions.v1" in view.topics]
    readers = ["executor", *(f"{isolated.topic_prefix}projector.{name}" for name in projecting)]
    producer = Producer({**as_operator(isolated)})
    for partition in range(isolated.partitions):
        producer.produce(
            isolated.topic("actions.v1"), b"\x00not avro at all", b"junk", partition=partition
        )
    assert producer.flush(30) == 0
    aid = decide(
        own_ledger, agent(own_ledger), resource("billing", "invoice"), outcome=DecisionOutcome.ALLOW
    )
    with services(isolated, own_ledger, systems, observe=False):
        wait_status(own_ledger, aid, Status.APPLIED)
        letters = [
            r
            for r in read_topic(isolated, "deadletter.v1", until=isolated.partitions * len(readers))
            if isinstance(r, DeadLetter)
        ]
    by_reader = Counter(letter.consumer.split(":")[0] for letter in letters)
    assert by_reader == dict.fromkeys(readers, isolated.partitions)
    assert {letter.payload for letter in letters} == {b"\x00not avro at all"}


def test_a_compensation_the_ledger_never_recorded_is_dead_lettered_not_forwarded(
    isolated: Settings, own_ledger: Ledger, systems: Connectors
) -> None:
    """A forged CompensationProposed on actions.v1 (an action never revoked): no proposal."""
    bot = agent(own_ledger)
    aid = decide(own_ledger, bot, resource("crm", "contact"), outcome=DecisionOutcome.ALLOW)
    forged = CompensationProposed.model_validate({
        "metadata": {"event_id": uuid4(), "correlation_id": uuid4(), "occurred_at": datetime.now(UTC)},
        "action_id": action_id(bot, compensation_key(aid)), "agent_id": bot,
        "resource": {"system": "crm", "type": "contact", "id": "forged"},
        "compensates_action_id": aid, "action_type": "contact.update.compensate",
        "parameters": {"tier": "forged"}, "reason": "forged",
    })  # fmt: skip
    serde = topic_serdes(isolated, "actions.v1")["actions.v1"]
    producer = Producer({**as_operator(isolated)})
    payload, key = serde.serialize(forged), b"crm/contact/forged"
    place = partition_for(
        key, isolated.partitions
    )  # with the relay's key: the ledger still says no
    headers = owners_headers(isolated, "actions.v1", place, key, payload)
    producer.produce(serde.topic, payload, key, partition=place, headers=headers)
    assert producer.flush(30) == 0
    with services(isolated, own_ledger, systems, observe=False):
        wait_status(own_ledger, aid, Status.APPLIED)
        letters = [
            r for r in read_topic(isolated, "deadletter.v1", until=10**6, timeout_s=15)
            if isinstance(r, DeadLetter) and r.consumer.startswith("executor")
        ]  # fmt: skip
        proposals = read_topic(isolated, "proposals.v1", until=10**6, timeout_s=3)
    (letter,) = letters
    assert f"the ledger records no compensation of action {aid}" in letter.error
    assert not [p for p in proposals if isinstance(p, ActionProposed)
                and p.idempotency_key == compensation_key(aid)]  # fmt: skip
