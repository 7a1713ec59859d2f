"""Helpers for decider tests: agents, a running relay + decider, reading what came out."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer

from agentledger.bootstrap import decider_service, relay, system_context, topic_serdes
from agentledger.services import answering
from agentledger.settings import Settings
from agentledger.signing_keys import enroll_key, new_agent_key
from consumers.decider.service import DeciderService
from domain.events import ActionProposed
from domain.signing import as_agent
from domain.values import Record
from infra.ledger.ledger import Ledger
from infra.partitioner import partition_for
from tests.kafka_helpers import as_operator


def register(
    the_ledger: Ledger, agent_id: str, scopes: list[str] | None = None, budget: int = 10_000
) -> None:
    """Register ``agent_id`` with ``scopes`` (default: everything), a budget and its key."""
    with the_ledger.batch(system_context()) as tx:
        tx.register_agent(
            agent_id=agent_id, name=agent_id, owner=f"owner-of-{agent_id}",
            scopes=scopes if scopes is not None else ["*"], budget_limit=Decimal(budget),
        )  # fmt: skip
        enroll_key(Settings(), tx, agent_id, "test")


def proposal(
    agent_id: str, key: str, *, signed_by: str | None = "", **overrides: Any
) -> ActionProposed:
    """A valid proposal by ``agent_id``, signed with its key, fields overridable.

    ``signed_by`` names another agent whose key signs it; ``None`` leaves it unsigned.
    """
    fields: dict[str, Any] = {
        "metadata": {"event_id": uuid.uuid4(), "correlation_id": uuid.uuid4(), "occurred_at": datetime.now(UTC)},
        "agent_id": agent_id, "idempotency_key": key,
        "resource": {"system": "crm", "type": "contact", "id": "42"},
        "action_type": "contact.update", "parameters": {"tier": "gold"}, "preconditions": {},
        "confidence": 0.95,
    }  # fmt: skip
    fields.update(overrides)
    unsigned = ActionProposed.model_validate(fields)
    if signed_by is None:
        return unsigned
    return as_agent(new_agent_key(Settings(), signed_by or agent_id))(unsigned)


@contextmanager
def running(
    settings: Settings, the_ledger: Ledger, deciders: int = 1, group_id: str | None = None,
    *, answer: bool = True,
) -> Iterator[list[DeciderService]]:  # fmt: skip
    """A relay and ``deciders`` decider instances (one consumer group) in threads.

    With ``answer``, the API and the timeline view run too: they answer the SDK's
    ``wait_for_decision``.
    """
    stop = threading.Event()
    the_relay = relay(settings, the_ledger)
    services = [decider_service(settings, the_ledger) for _ in range(deciders)]
    for service in services:
        if group_id is not None:
            service.config = dataclasses.replace(service.config, group_id=group_id)
    threads = [threading.Thread(target=the_relay.run, args=(stop,), daemon=True)]
    threads += [threading.Thread(target=s.run, args=(stop,), daemon=True) for s in services]
    for thread in threads:
        thread.start()
    try:
        assert the_relay.active.wait(60), "relay did not become active"
        for service in services:
            assert service.ready.wait(60), "decider got no partitions"
        with answering(settings, the_ledger) if answer else nullcontext():
            yield services
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)


def read_topic(settings: Settings, name: str, until: int, timeout_s: float = 60.0) -> list[Record]:
    """Records of topic ``name`` (read_committed, from the start) until ``until`` arrived."""
    serde = topic_serdes(settings, name)[name]
    consumer = Consumer({
        **as_operator(settings), "group.id": f"check-{uuid.uuid4()}",
        "isolation.level": "read_committed", "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })  # fmt: skip
    consumer.subscribe([serde.topic])
    records: list[Record] = []
    deadline = datetime.now(UTC).timestamp() + timeout_s
    try:
        while len(records) < until and datetime.now(UTC).timestamp() < deadline:
            for message in consumer.consume(1000, timeout=0.5):
                error = message.error()
                if error is not None and error.code() != KafkaError._PARTITION_EOF:  # noqa: SLF001
                    raise AssertionError(error)
                if error is None:
                    records.append(serde.deserialize(message.value()))
    finally:
        consumer.close()
    return records


def produce(settings: Settings, proposals: Iterable[ActionProposed]) -> None:
    """Put ``proposals`` on proposals.v1 as agents do (keyed, partitioned by resource key)."""
    serde = topic_serdes(settings, "proposals.v1")["proposals.v1"]
    producer = Producer({**as_operator(settings), "linger.ms": 5})
    for record in proposals:
        key = record.resource.key.encode()
        partition = partition_for(key, settings.partitions)
        producer.produce(serde.topic, serde.serialize(record), key, partition=partition)
    assert producer.flush(60) == 0
