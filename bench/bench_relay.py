"""The relay: store -> Kafka throughput, and save -> visible latency for read_committed readers."""

from __future__ import annotations

import os
import statistics
import threading
import time
import uuid

from confluent_kafka import Consumer

from agentledger.bootstrap import ledger, relay, system_context
from agentledger.credentials import kafka_access
from agentledger.settings import Settings
from bench.bench_ledger import _register, _write, proposal
from bench.isolation import isolated
from bench.result import Result
from infra.kafka_acls import OPERATOR
from infra.kafka_config import client_config
from infra.ledger.ledger import Ledger

PROPOSALS = int(os.environ.get("BENCH_RELAY_PROPOSALS", "12000"))
SAMPLES = int(os.environ.get("BENCH_RELAY_SAMPLES", "200"))


def run(settings: Settings) -> list[Result]:
    """relay.eps over a backlog; latency percentiles for single saves at ~20/s."""
    with isolated(settings) as mine:
        the_ledger = ledger(mine)
        _register(the_ledger)
        _write(the_ledger, PROPOSALS, 200, "r")
        backlog = the_ledger.recorder.max_notification_id() or 0
        the_relay = relay(mine, the_ledger)
        stop = threading.Event()
        thread = threading.Thread(target=the_relay.run, args=(stop,), daemon=True)
        thread.start()
        if not the_relay.active.wait(60):
            raise RuntimeError("relay did not become active")
        started = time.perf_counter()
        while the_relay.position.notification_id < backlog:
            time.sleep(0.005)
        eps = backlog / (time.perf_counter() - started)
        latencies = _latencies(mine, the_ledger)
        stop.set()
        thread.join(30)
        the_ledger.close()
    p50 = statistics.median(latencies)
    p99 = statistics.quantiles(latencies, n=100)[98]
    return [
        Result("relay.eps", round(eps), "events/s", "higher", 30000),
        Result("relay.latency_p50_ms", round(p50, 2), "ms", "lower"),
        Result("relay.latency_p99_ms", round(p99, 2), "ms", "lower"),
    ]


def _latencies(settings: Settings, the_ledger: Ledger) -> list[float]:
    consumer = Consumer(client_config(kafka_access(settings, OPERATOR), {
        "group.id": f"bench-{uuid.uuid4()}",
        "isolation.level": "read_committed", "auto.offset.reset": "latest", "fetch.wait.max.ms": 5,
    }))  # fmt: skip
    consumer.subscribe([settings.topic("actions.v1")])
    deadline = time.monotonic() + 30
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(0.1)
    sent: dict[bytes, float] = {}
    latencies: list[float] = []
    for index in range(SAMPLES):
        key = f"lat{index}"
        item = proposal(key, index)
        with the_ledger.batch(system_context()) as tx:
            tx.propose(item)
        sent[item.resource.key.encode() + key.encode()] = time.perf_counter()
        waiting = time.monotonic() + 10
        while time.monotonic() < waiting:
            message = consumer.poll(0.05)
            if (
                message is not None
                and message.error() is None
                and key.encode() in (message.value() or b"")
            ):
                latencies.append(
                    (time.perf_counter() - sent[item.resource.key.encode() + key.encode()]) * 1000
                )
                break
        time.sleep(0.03)
    consumer.close()
    return latencies
