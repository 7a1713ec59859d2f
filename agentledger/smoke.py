"""The demo's smoke scenario: every real component used once, each step printed.

Registers an Avro schema through the registry's Confluent-compatible API, produces a
record with confluent-kafka's AvroSerializer, consumes it back with the AvroDeserializer,
and writes and reads a row in PostgreSQL. Later issues grow the demo into the full
governed-action scenario.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import psycopg
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from rich.console import Console

from agentledger.bootstrap import projection_store, registrar
from agentledger.credentials import kafka_access
from agentledger.settings import Settings
from infra.kafka_acls import OPERATOR
from infra.kafka_config import KafkaAccess, client_config

SMOKE_SCHEMA = {
    "type": "record",
    "name": "SmokeChecked",
    "namespace": "agentledger.smoke",
    "doc": "One run of the demo's smoke check.",
    "fields": [
        {"name": "run_id", "type": "string", "doc": "Unique id of the run."},
        {"name": "step", "type": "int", "doc": "Step number."},
        {
            "name": "at",
            "type": {"type": "long", "logicalType": "timestamp-millis"},
            "doc": "When the record was produced.",
        },
    ],
}


def run_smoke(settings: Settings, out: Console) -> dict[str, Any]:
    """Run the smoke scenario against the configured components; returns what was read."""
    run_id = str(uuid.uuid4())
    topic = settings.topic("smoke.v1")
    registry = registrar(settings).client  # registering is the operator's
    subject = f"{topic}-value"

    schema_id = registry.register_schema(subject, Schema(json.dumps(SMOKE_SCHEMA), "AVRO"))
    out.print(
        f"[bold]1.[/] registered schema [cyan]{subject}[/] -> id {schema_id} at {settings.registry}"
    )

    kafka = kafka_access(settings, OPERATOR)
    _ensure_topic(kafka, topic)
    serializer = AvroSerializer(registry, json.dumps(SMOKE_SCHEMA))
    context = SerializationContext(topic, MessageField.VALUE)
    record = {"run_id": run_id, "step": 2, "at": int(time.time() * 1000)}
    producer = Producer(client_config(kafka, {"enable.idempotence": True}))
    delivered: list[tuple[int, int]] = []

    def on_delivery(error: object, msg: Any) -> None:  # noqa: ANN401  # Message is untyped
        if error is None:
            delivered.append((msg.partition(), msg.offset()))

    producer.produce(
        topic, key=run_id.encode(), value=serializer(record, context), on_delivery=on_delivery
    )
    if producer.flush(30) or not delivered:
        raise RuntimeError(f"smoke record was not delivered to {topic}")
    partition, offset = delivered[0]
    out.print(f"[bold]2.[/] produced Avro record to [cyan]{topic}[/] [{partition}] @{offset}")

    consumer = Consumer(client_config(kafka, {
        "group.id": f"smoke-{run_id}",
        "isolation.level": "read_committed", "enable.auto.commit": False,
    }))  # fmt: skip
    consumer.assign([TopicPartition(topic, partition, offset)])
    message = consumer.poll(30)
    consumer.close()
    if message is None or message.error():
        raise RuntimeError(
            f"smoke record not read back from {topic}: {message and message.error()}"
        )
    decoded = AvroDeserializer(registry)(message.value(), context)
    out.print(f"[bold]3.[/] consumed it back through the registry: {decoded}")

    with psycopg.connect(
        projection_store(settings, builds=True).url
    ) as conn:  # a table of the views' role
        conn.execute(
            "CREATE TABLE IF NOT EXISTS smoke_runs "
            "(run_id uuid PRIMARY KEY, schema_id int NOT NULL,"
            " at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(
            "INSERT INTO smoke_runs (run_id, schema_id) VALUES (%s, %s)", (run_id, schema_id)
        )
        row = conn.execute("SELECT count(*), max(at) FROM smoke_runs").fetchone()
    out.print(
        f"[bold]4.[/] wrote and read PostgreSQL: {row[0] if row else 0} smoke runs recorded so far"
    )
    out.print("[green]smoke check passed[/]: registry, Kafka and PostgreSQL all answered for real")
    return {"schema_id": schema_id, "record": decoded, "runs": row[0] if row else 0}


def _ensure_topic(kafka: KafkaAccess, topic: str) -> None:
    admin = AdminClient(client_config(kafka))
    if topic in admin.list_topics(timeout=10).topics:
        return
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        try:
            future.result(timeout=30)
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
