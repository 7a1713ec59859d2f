"""The decider end to end on Kafka: proposal produced -> decision visible on actions.v1.

Throughput: a backlog of proposals decided by one decider instance (and relayed),
timed from the decider's start to the last PolicyDecided read back (read_committed).
Latency: proposals produced at a steady rate, each timed until its PolicyDecided is read.
"""

from __future__ import annotations

import functools
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from confluent_kafka import Consumer, Producer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agentledger.bootstrap import catalog, ledger, registrar, system_context, topic_serdes
from agentledger.credentials import kafka_access
from agentledger.settings import Settings
from agentledger.signing_keys import key_from_secret
from bench.bench_ledger import _register, proposal
from bench.isolation import isolated
from bench.result import Result
from domain.events import ActionProposed, PolicyDecided
from domain.signing import as_agent, public_bytes
from infra.batches import ready_batch
from infra.kafka_acls import OPERATOR
from infra.kafka_config import client_config
from infra.partitioner import partition_for
from infra.serde.topic_serde import TopicSerde

BACKLOG = int(os.environ.get("BENCH_DECIDER_BACKLOG", "6000"))
RATE = float(os.environ.get("BENCH_DECIDER_RATE", "200"))
SECONDS = float(os.environ.get("BENCH_DECIDER_SECONDS", "10"))
DECIDERS = int(os.environ.get("BENCH_DECIDER_INSTANCES", "1"))
AGENTS = 200
LOGS = Path(tempfile.gettempdir()) / "agentledger-bench"
LOGS.mkdir(exist_ok=True)


def run(settings: Settings) -> list[Result]:
    """decider.throughput_pps on a backlog; decider.latency_p50/p99_ms at a steady rate.

    The relay and the decider run as their own processes (`agentledger relay`,
    `agentledger decider`), as in production; this process only produces and watches.
    """
    with isolated(settings) as mine:
        the_ledger = ledger(mine)
        _register(the_ledger, AGENTS)
        with the_ledger.batch(system_context()) as tx:
            for index in range(AGENTS):
                tx.register_key(f"agent-{index}", public_key=public_bytes(_key(index)), by="bench")
        serdes = topic_serdes(mine, "proposals.v1", "actions.v1")
        producer = Producer(client_config(kafka_access(mine, OPERATOR), {"linger.ms": 5}))
        decided = _Watch(mine, serdes["actions.v1"])
        with _processes(mine):
            _produce(producer, serdes["proposals.v1"], _proposal("warm-up", 0), mine)
            producer.flush(30)
            decided.wait_for(1, 120)
            backlog = [_proposal(f"b{index}", index) for index in range(1, BACKLOG + 1)]
            started = time.perf_counter()  # signed before: the decider's work is measured
            for signed in backlog:
                _produce(producer, serdes["proposals.v1"], signed, mine)
                producer.poll(0)
            producer.flush(60)
            decided.wait_for(BACKLOG + 1, 900)
            throughput = BACKLOG / (time.perf_counter() - started)
            latencies: list[float] = []
            sent: dict[uuid.UUID, float] = {}

            def arrived(aid: uuid.UUID, at: float) -> None:
                if aid in sent:
                    latencies.append((at - sent[aid]) * 1000)

            decided.on_decision = arrived
            count = int(RATE * SECONDS)
            for index in range(count):
                due = time.perf_counter() + 1 / RATE
                proposal = _proposal(f"l{index}", index)
                sent[_action_id(proposal)] = time.perf_counter()
                _produce(producer, serdes["proposals.v1"], proposal, mine)
                producer.poll(0)
                time.sleep(max(0.0, due - time.perf_counter()))
            producer.flush(30)
            decided.wait_for(BACKLOG + 1 + count, 300)
        decided.stop()
        the_ledger.close()
    return [
        Result("decider.throughput_pps", round(throughput), "proposals/s", "higher", 2000),
        Result("decider.latency_p50_ms", round(statistics.median(latencies), 2), "ms", "lower"),
        Result(
            "decider.latency_p99_ms",
            round(statistics.quantiles(latencies, n=100)[98], 2),
            "ms",
            "lower",
            50,
        ),
    ]


def _proposal(key: str, index: int) -> ActionProposed:
    """A proposal signed by its agent, as the SDK signs it."""
    unsigned = proposal(key, index, agents=AGENTS, estimated_cost=Decimal("1.5"))
    return as_agent(_key(index % AGENTS))(unsigned)


@functools.cache
def _key(agent: int) -> Ed25519PrivateKey:
    return key_from_secret(f"bench-agent-{agent}")


def _action_id(proposal: ActionProposed) -> uuid.UUID:
    from domain.ids import action_id  # noqa: PLC0415  # keeps the bench's imports to what it times

    return action_id(proposal.agent_id, proposal.idempotency_key)


def _produce(
    producer: Producer, serde: TopicSerde, proposal: ActionProposed, settings: Settings
) -> None:
    key = proposal.resource.key.encode()
    producer.produce(
        serde.topic,
        serde.serialize(proposal),
        key,
        partition=partition_for(key, settings.partitions),
    )


@contextmanager
def _processes(settings: Settings) -> Iterator[None]:
    env = {
        **os.environ, "AGENTLEDGER_TOPIC_PREFIX": settings.topic_prefix,
        "AGENTLEDGER_LEDGER_NAME": settings.ledger_name,
    }  # fmt: skip
    cli = str(Path(sys.executable).parent / "agentledger")
    commands = ["relay"] + ["decider"] * DECIDERS
    logs = [(LOGS / f"{name}-{index}.log").open("wb") for index, name in enumerate(commands)]
    children = [
        subprocess.Popen([cli, command], env=env, stdout=log, stderr=log)
        for command, log in zip(commands, logs, strict=True)
    ]
    try:
        yield
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child, log in zip(children, logs, strict=True):
            try:
                child.wait(60)
            except subprocess.TimeoutExpired:
                child.kill()
            log.close()


class _Watch:
    """Counts PolicyDecided records on actions.v1 as they become visible (read_committed)."""

    def __init__(self, settings: Settings, serde: TopicSerde) -> None:
        self.count = 0
        self.on_decision: Callable[[uuid.UUID, float], object] | None = None
        self._serde, self._stop = serde, threading.Event()
        ids = registrar(settings).register([catalog()["PolicyDecided"]])
        self._decided_id = ids["agentledger.v1.PolicyDecided"].to_bytes(4, "big")
        self._consumer = Consumer(client_config(kafka_access(settings, OPERATOR), {
            "group.id": f"bench-{uuid.uuid4()}",
            "isolation.level": "read_committed", "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 5,
        }))  # fmt: skip
        self._consumer.subscribe([serde.topic])
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for message in ready_batch(self._consumer, 1000, 0.05):
                if message.error() is not None:
                    continue
                at = time.perf_counter()
                payload = message.value() or b""
                if payload[1:5] != self._decided_id:
                    continue  # decode only decisions: the watcher must not steal the CPU
                record = self._serde.deserialize(payload)
                if isinstance(record, PolicyDecided):
                    self.count += 1
                    if self.on_decision is not None:
                        self.on_decision(record.action_id, at)
        self._consumer.close()

    def wait_for(self, count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.count < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {self.count} of {count} decisions within {timeout_s} s")
            time.sleep(0.01)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
