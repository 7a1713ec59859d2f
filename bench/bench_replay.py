"""Replay: rebuild the actual-state projection from observations.v1 into PostgreSQL."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

from confluent_kafka import Producer

from agentledger.bootstrap import replay, topic_serdes
from agentledger.credentials import kafka_access
from agentledger.settings import Settings
from agentledger.signing_keys import record_signer
from bench.isolation import isolated
from bench.result import Result
from consumers.observer.chain import ObservationChain
from consumers.observer.records import observation_of
from domain.values import ResourceRef
from infra.connectors.base import Change
from infra.kafka_acls import OPERATOR
from infra.kafka_config import client_config
from infra.partitioner import partition_for

EVENTS = int(os.environ.get("BENCH_REPLAY_EVENTS", "50000"))
RESOURCES = 5000


def run(settings: Settings) -> list[Result]:
    """replay.eps: observations read, decoded and applied per second by a rebuild."""
    with isolated(settings) as mine:
        _produce(mine)
        result = replay(mine, "actual", None, lambda _done, _total: None)
    if result.records != EVENTS:
        raise RuntimeError(f"replay read {result.records} of {EVENTS} observations")
    return [
        Result("replay.eps", round(result.records / result.seconds), "events/s", "higher", 100_000)
    ]


def _produce(settings: Settings) -> None:
    serde = topic_serdes(settings, "observations.v1")["observations.v1"]
    producer = Producer(client_config(kafka_access(settings, OPERATOR), {"linger.ms": 20,
                         "enable.idempotence": True}))  # fmt: skip
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:6]
    signer, chain = record_signer(settings, "observer"), ObservationChain()
    for sequence in range(1, EVENTS + 1):
        ref = ResourceRef(system="billing", type="invoice", id=f"{tag}-{sequence % RESOURCES}")
        change = Change(
            sequence=sequence, resource=ref, version=str(sequence),
            fields={"amount": sequence, "status": "sent"}, deleted=False, changed_at=now,
        )  # fmt: skip
        key, payload = ref.key.encode(), serde.serialize(observation_of("billing", change, now))
        place = partition_for(key, settings.partitions)
        link, chained = chain.extend(place, payload)  # as the observer chains and signs
        headers = [*chained, *signer.headers(serde.topic, place, key, payload, link)]
        producer.produce(serde.topic, payload, key, partition=place, headers=[*headers])
        if sequence % 10_000 == 0:
            producer.flush(60)
    if producer.flush(60):
        raise RuntimeError("observations not delivered")
