"""Raw Kafka proposals that break an intake limit: rejected with the reason, taking nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka import Producer

from agentledger.bootstrap import topic_serdes
from agentledger.settings import Settings
from domain.events import ProposalRejected
from domain.ids import action_id
from infra.ledger.ledger import Ledger
from infra.serde.deadletter import DeadLetter
from tests.decider_helpers import proposal, read_topic, register, running
from tests.kafka_helpers import as_operator, enrolled_client

pytestmark = pytest.mark.integration


def deep(depth: int) -> dict[str, Any]:
    """An object ``depth`` containers deep."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


BREACHES: dict[str, dict[str, Any]] = {
    "deep": {"parameters": {"x": deep(300)}},
    "negative": {"estimated_cost": Decimal("-5.0000")},
    "nul": {"parameters": {"note": "a\x00b"}},  # refused by the Avro reader: a dead letter
}


def test_a_proposal_over_a_limit_is_rejected_and_its_key_stays_free(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """Nested 300 deep or a negative cost is `malformed` naming the field; a NUL a dead letter.

    The agent's own later proposal with that idempotency key is decided, not a duplicate.
    """
    register(own_ledger, "bot", scopes=["*"])
    serde = topic_serdes(isolated, "proposals.v1")["proposals.v1"]
    producer = Producer({**as_operator(isolated)})
    for key, breach in BREACHES.items():  # written past the API, as any Kafka client could
        bad = proposal("bot", key).model_copy(update=breach)
        producer.produce(serde.topic, serde.serialize(bad), b"crm/contact/42")
    producer.flush(30)
    with running(isolated, own_ledger):
        client = enrolled_client("bot", isolated)
        refs = {
            key: client.propose(
                resource="crm/contact/42", action_type="contact.update", idempotency_key=key
            )
            for key in BREACHES
        }
        decisions = {key: client.wait_for_decision(ref, 60) for key, ref in refs.items()}
        with pytest.raises(ValueError, match="estimated_cost must not be negative"):
            client.propose(resource="crm/contact/42", action_type="contact.update",
                           idempotency_key="sdk", estimated_cost=-1)  # fmt: skip
        records = read_topic(isolated, "actions.v1", until=10**9, timeout_s=20)
        (letter,) = read_topic(isolated, "deadletter.v1", until=1)
    rejected = {  # recorded against no agent: the key it claims is in the message
        key: r for r in records if isinstance(r, ProposalRejected) for key in ("deep", "negative")
        if f"'idempotency_key': '{key}'" in r.reason.message
    }  # fmt: skip
    assert set(rejected) == {"deep", "negative"}
    assert {r.reason.code for r in rejected.values()} == {"malformed"}
    assert "parameters.x.a" in rejected["deep"].reason.message
    assert "nests deeper than 32 levels" in rejected["deep"].reason.message
    assert "estimated_cost must not be negative" in rejected["negative"].reason.message
    assert isinstance(letter, DeadLetter)
    assert "NUL character" in letter.error
    assert all(r.action_id is None for r in rejected.values())
    for key, decision in decisions.items():
        assert decision.outcome != "rejected", key
        assert decision.action_id == action_id("bot", key)
