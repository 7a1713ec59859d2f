"""Raw produce -> consume throughput through the local broker (no serde, no transactions)."""

from __future__ import annotations

import os
import threading
import time
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from agentledger.credentials import kafka_access
from agentledger.settings import Settings
from bench.result import Result
from infra.kafka_acls import OPERATOR
from infra.kafka_config import KafkaAccess, client_config

MESSAGES = int(os.environ.get("BENCH_KAFKA_MESSAGES", "300000"))
PAYLOAD = b"x" * 200


def run(settings: Settings) -> list[Result]:
    """Produce MESSAGES 200-byte records while one consumer reads them; messages per second."""
    admin = AdminClient(client_config(kafka_access(settings, OPERATOR)))
    topic = f"bench.kafka.{uuid.uuid4().hex[:8]}"
    for future in admin.create_topics([NewTopic(topic, settings.partitions, 1)]).values():
        future.result(timeout=30)
    try:
        seconds = _pipeline(kafka_access(settings, OPERATOR), topic)
    finally:
        for future in admin.delete_topics([topic]).values():
            future.result(timeout=30)
    return [Result("kafka.produce_consume_mps", round(MESSAGES / seconds), "msg/s", "higher")]


def _pipeline(kafka: KafkaAccess, topic: str) -> float:
    consumer = Consumer(client_config(kafka, {
        "group.id": f"bench-{topic}",
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
        "fetch.min.bytes": 65536, "fetch.wait.max.ms": 20,
    }))  # fmt: skip
    consumer.subscribe([topic])
    ready, received = threading.Event(), [0]

    def consume() -> None:
        while received[0] < MESSAGES:
            batch = consumer.consume(num_messages=10_000, timeout=0.5)
            if consumer.assignment():
                ready.set()
            received[0] += sum(1 for message in batch if message.error() is None)

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    if not ready.wait(30):
        raise RuntimeError("benchmark consumer got no partition assignment within 30s")
    producer = Producer(client_config(kafka, {
        "linger.ms": 5, "batch.size": 262144,
        "compression.type": "lz4", "queue.buffering.max.messages": 500_000,
    }))  # fmt: skip
    started = time.perf_counter()
    for index in range(MESSAGES):
        while True:
            try:
                producer.produce(topic, key=str(index % 1000).encode(), value=PAYLOAD)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)
    reader.join(120)
    elapsed = time.perf_counter() - started
    consumer.close()
    if received[0] < MESSAGES:
        raise RuntimeError(f"consumer read {received[0]} of {MESSAGES} messages within 120s")
    return elapsed
