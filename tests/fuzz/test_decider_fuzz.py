"""Fuzzing the decider on the real stack: generated proposals, broken records, random bytes.

Whatever arrives on proposals.v1, the decider keeps going, and every record ends as a
decision, a ProposalRejected with a reason, or a dead letter: never lost, never twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentledger.bootstrap import topic_serdes
from agentledger.settings import Settings
from consumers.decider.service import DeciderService
from domain.events import ActionProposed
from infra.ledger.ledger import Ledger
from infra.serde.deadletter import DeadLetter
from infra.serde.topic_serde import TopicSerde
from tests.db_helpers import admin_url
from tests.decider_helpers import read_topic, register, running
from tests.kafka_helpers import as_operator
from tests.strategies import records

pytestmark = pytest.mark.fuzz
AGENTS = ("fuzz-all", "fuzz-crm", "fuzz-none")


def _payloads(serde: TopicSerde) -> st.SearchStrategy[tuple[bytes, bytes | None]]:
    known = records(ActionProposed).map(
        lambda p: p.model_copy(update={"agent_id": AGENTS[hash(p.idempotency_key) % 3]})
    )
    valid = st.one_of(records(ActionProposed), known).map(
        lambda p: (p.resource.key.encode(), serde.serialize(p))
    )
    broken = st.tuples(known, st.sampled_from(["confidence", "agent_id", "action_type"])).map(
        lambda pair: (b"k", serde.serialize(_break(*pair)))
    )
    noise = st.tuples(st.binary(max_size=20), st.binary(max_size=300))
    framed = st.tuples(
        st.just(b"k"), st.binary(max_size=200).map(lambda b: b"\x00\x00\x00\x00\x01" + b)
    )
    truncated = valid.flatmap(
        lambda kv: st.integers(0, len(kv[1]) - 1).map(lambda n: (kv[0], kv[1][:n]))
    )
    empty = st.just((b"k", None))
    return st.one_of(valid, valid, broken, noise, framed, truncated, empty)


def _break(proposal: ActionProposed, field: str) -> ActionProposed:
    bad: dict[str, Any] = {
        "confidence": 7.5,
        "agent_id": "has a space/and slash",
        "action_type": "",
    }
    return proposal.model_copy(update={field: bad[field]})  # skips validation on purpose


@pytest.fixture
def stack(
    isolated: Settings, own_ledger: Ledger
) -> Iterator[tuple[Settings, Ledger, list[DeciderService]]]:
    """A running relay and decider on the isolated ledger, with three agents."""
    register(own_ledger, "fuzz-all", scopes=["*"])
    register(own_ledger, "fuzz-crm", scopes=["crm:*"])
    register(own_ledger, "fuzz-none", scopes=[])
    with running(isolated, own_ledger) as services:
        yield isolated, own_ledger, services


def _outcomes(settings: Settings, dead_letters: int) -> int:
    prefix = settings.ledger_name.lower()
    with psycopg.connect(admin_url(settings)) as conn:
        decided = conn.execute(f"SELECT count(*) FROM {prefix}_decisions").fetchone()  # our table
        rejected = conn.execute(
            f"SELECT count(*) FROM {prefix}_events WHERE topic LIKE %s",
            ("%ProposalRejection.Created",),
        ).fetchone()
    assert decided is not None
    assert rejected is not None
    return int(decided[0]) + int(rejected[0]) + dead_letters


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_every_fuzzed_record_ends_as_a_decision_a_rejection_or_a_dead_letter(
    stack: tuple[Settings, Ledger, list[DeciderService]], data: st.DataObject
) -> None:
    """Per batch of 1-60 generated records: the decider drains them all, and outcomes grow by exactly the count."""
    settings_, _, services = stack
    serde = topic_serdes(settings_, "proposals.v1")["proposals.v1"]
    batch = data.draw(st.lists(_payloads(serde), min_size=1, max_size=60))
    produced_before = services[0].handled
    producer = Producer({**as_operator(settings_)})
    for key, value in batch:
        producer.produce(serde.topic, value, key)
    assert producer.flush(30) == 0
    deadline = time.monotonic() + 60
    while services[0].handled < produced_before + len(batch):
        assert time.monotonic() < deadline, f"decider stalled at {services[0].handled}"
        time.sleep(0.05)
    total = services[0].handled
    letters = [
        r
        for r in read_topic(settings_, "deadletter.v1", until=10**9, timeout_s=3)
        if isinstance(r, DeadLetter)
    ]
    assert all(letter.error for letter in letters)
    assert _outcomes(settings_, len(letters)) == total
