"""The reconciler end to end on Kafka: throughput, and observation → alert latency.

``reconciler.ops``: observations already on ``observations.v1`` when an
`agentledger reconciler` process starts, divided by the time until its consumer group
has committed past all of them (it commits every `AGENTLEDGER_RECONCILER_COMMIT_S`).
``drift.latency_p99_ms``: out-of-band edits produced at 1,000 observations/s (each on a
resource with a known baseline) with the settle window at 0; the time from producing an
edit to its ``DriftDetected`` being readable on ``drift.v1``.

The latency run is preceded by an uncounted one of ``BENCH_DRIFT_WARMUP`` edits: right
after ``agentledger up`` the broker is cold, and the first run's p50 was 2-3 s where every
later one was 0.4 s.

Environment: ``BENCH_RECONCILER_EVENTS`` (30,000), ``BENCH_DRIFT_EDITS`` (5,000),
``BENCH_DRIFT_WARMUP`` (2,000) and ``BENCH_DRIFT_RATE`` (1,000 edits/s) size the runs.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from agentledger.bootstrap import topic_serdes
from agentledger.credentials import kafka_access
from agentledger.processes import ReconcilerProcess, reconciler_progress
from agentledger.settings import Settings
from bench.isolation import isolated
from bench.result import Result
from consumers.observer.records import observation_of
from domain.events import DriftDetected
from domain.values import ResourceRef, Value
from infra.connectors.base import Change
from infra.kafka_acls import OPERATOR
from infra.kafka_config import client_config
from infra.partitioner import partition_for
from infra.serde.topic_serde import TopicSerde

EVENTS = int(os.environ.get("BENCH_RECONCILER_EVENTS", "30000"))
RESOURCES = 3000
RATE = int(os.environ.get("BENCH_DRIFT_RATE", "1000"))
"""Edits per second in the latency run (the goal is stated at 1,000)."""
LATENCY_EDITS = int(os.environ.get("BENCH_DRIFT_EDITS", "5000"))
WARMUP_EDITS = int(os.environ.get("BENCH_DRIFT_WARMUP", "2000"))


def run(settings: Settings) -> list[Result]:
    """reconciler.ops and drift.latency_p99_ms (with p50 beside it)."""
    logs = Path(tempfile.mkdtemp(prefix="bench-reconciler-"))
    with isolated(settings) as mine:
        ops = _throughput(mine, logs / "throughput.log")
    fast = settings.model_copy(update={"reconciler_settle_s": 0.0, "reconciler_tick_s": 0.1})
    with isolated(fast) as mine:
        _latency(mine, logs / "warmup.log", WARMUP_EDITS)
    with isolated(fast) as mine:
        p50, p99 = _latency(mine, logs / "latency.log", LATENCY_EDITS)
    return [
        Result("reconciler.ops", round(ops), "observations/s", "higher", 5000),
        Result("drift.latency_p50_ms", round(p50, 1), "ms", "lower"),
        Result("drift.latency_p99_ms", round(p99, 1), "ms", "lower", 1000),
    ]


def _throughput(settings: Settings, log: Path) -> float:
    producer, serde = _producer(settings)
    tag = uuid.uuid4().hex[:6]
    for sequence in range(1, EVENTS + 1):
        ref = ResourceRef(system="crm", type="contact", id=f"{tag}-{sequence % RESOURCES}")
        _observe(producer, serde, settings, ref, sequence, {"tier": f"t{sequence % 7}"})
        if sequence % 10_000 == 0:
            producer.flush(60)
    producer.flush(60)
    process = ReconcilerProcess(settings, log)
    try:
        process.wait_ready()
        started = time.monotonic()
        deadline = started + 600
        while _committed(settings) < EVENTS and time.monotonic() < deadline:
            time.sleep(0.2)
        seconds = time.monotonic() - started
    finally:
        process.stop()
    done = _committed(settings)
    if done < EVENTS:
        raise RuntimeError(f"the reconciler committed {done} of {EVENTS} observations in 600 s")
    return EVENTS / seconds


def _latency(settings: Settings, log: Path, count: int) -> tuple[float, float]:
    producer, serde = _producer(settings)
    tag = uuid.uuid4().hex[:6]
    refs = [ResourceRef(system="crm", type="contact", id=f"{tag}-{i}") for i in range(count)]
    sequence = 0
    for ref in refs:  # baselines, before the reconciler starts
        sequence += 1
        _observe(producer, serde, settings, ref, sequence, {"tier": "silver"})
    producer.flush(60)
    drift = topic_serdes(settings, "drift.v1")["drift.v1"]
    consumer = Consumer(client_config(kafka_access(settings, OPERATOR), {
        "group.id": f"bench-{uuid.uuid4()}",
        "isolation.level": "read_committed", "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }))  # fmt: skip
    consumer.assign([TopicPartition(drift.topic, p, 0) for p in range(settings.partitions)])
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    # Encoded ahead, so that the timed window measures the reconciler and not this process's
    # Avro encoding (which took most of a core of the two this machine has).
    edits = [
        _encode(serde, settings, ref, sequence + index, {"tier": "bronze"})
        for index, ref in enumerate(refs, start=1)
    ]
    process = ReconcilerProcess(settings, log)
    try:
        process.wait_ready()
        time.sleep(5)  # the baselines are applied
        start = time.monotonic()
        for index, (ref, edit) in enumerate(zip(refs, edits, strict=True)):
            due = start + index / RATE
            while (wait := due - time.monotonic()) > 0:  # block, not spin: 2 cores are shared
                _drain(consumer, drift, seen, wait)
            _produce(producer, serde, edit)
            producer.poll(0)
            sent[ref.key] = time.monotonic()
        producer.flush(60)
        deadline = time.monotonic() + 60
        while len(seen.keys() & sent.keys()) < len(sent) and time.monotonic() < deadline:
            _drain(consumer, drift, seen, 0.2)
    finally:
        process.stop()
        consumer.close()
    latencies = sorted((seen[key] - sent[key]) * 1000 for key in sent if key in seen)
    if len(latencies) < len(sent):
        raise RuntimeError(f"{len(sent) - len(latencies)} of {len(sent)} edits raised no alert")
    return statistics.median(latencies), latencies[int(0.99 * (len(latencies) - 1))]


def _drain(consumer: Consumer, serde: TopicSerde, seen: dict[str, float], timeout: float) -> None:
    for message in consumer.consume(1000, timeout):
        if message.error() is None:
            record = serde.read_message(message)
            if isinstance(record, DriftDetected):
                seen.setdefault(record.resource.key, time.monotonic())


def _producer(settings: Settings) -> tuple[Producer, TopicSerde]:
    serde = topic_serdes(settings, "observations.v1")["observations.v1"]
    producer = Producer(client_config(kafka_access(settings, OPERATOR), {"linger.ms": 2,
                         "enable.idempotence": True}))  # fmt: skip
    return producer, serde


Encoded = tuple[bytes, bytes, int]
"""An observation ready to produce: key, value, partition."""


def _encode(serde: TopicSerde, settings: Settings, ref: ResourceRef, sequence: int,
            fields: dict[str, Value]) -> Encoded:  # fmt: skip
    now = datetime.now(UTC)
    change = Change(
        sequence=sequence, resource=ref, version=str(sequence), fields=fields,
        deleted=False, changed_at=now,
    )  # fmt: skip
    key = ref.key.encode()
    value = serde.serialize(observation_of("crm", change, now))
    return key, value, partition_for(key, settings.partitions)


def _observe(  # noqa: PLR0913, PLR0917  # one observation, fully described
    producer: Producer,
    serde: TopicSerde,
    settings: Settings,
    ref: ResourceRef,
    sequence: int,
    fields: dict[str, Value],
) -> None:
    _produce(producer, serde, _encode(serde, settings, ref, sequence, fields))


def _produce(producer: Producer, serde: TopicSerde, record: Encoded) -> None:
    key, value, partition = record
    producer.produce(serde.topic, value, key, partition=partition)


def _committed(settings: Settings) -> int:
    """Observations the reconciler's group has committed past."""
    return sum(max(committed, 0) for committed, _high in reconciler_progress(settings))
