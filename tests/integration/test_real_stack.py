"""The real components work together: registry + Avro through Kafka, transactions, PostgreSQL."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from agentledger.bootstrap import registrar
from agentledger.settings import Settings
from infra.topics import TOPICS
from tests.db_helpers import admin_url
from tests.kafka_helpers import as_operator

pytestmark = pytest.mark.integration

RECORD = {
    "type": "record",
    "name": "Ping",
    "namespace": "agentledger.test",
    "doc": "Test record.",
    "fields": [
        {"name": "id", "type": "string", "doc": "Id."},
        {
            "name": "amount",
            "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2},
            "doc": "Money.",
        },
        {"name": "note", "type": ["null", "string"], "default": None, "doc": "Optional."},
    ],
}


def _read_all(settings: Settings, topic: str, isolation: str) -> list[Message]:
    consumer = Consumer({
        **as_operator(settings), "group.id": f"g-{uuid.uuid4()}",
        "isolation.level": isolation, "enable.auto.commit": False, "auto.offset.reset": "earliest",
    })  # fmt: skip
    consumer.assign([TopicPartition(topic, 0, 0)])
    messages: list[Message] = []
    idle = 0
    while idle < 3:
        message = consumer.poll(1.0)
        if message is None:
            idle += 1
        elif (error := message.error()) is None:
            messages.append(message)
        elif error.code() != KafkaError._PARTITION_EOF:  # noqa: SLF001  # public constant
            raise AssertionError(error)
    consumer.close()
    return messages


def test_avro_record_round_trips_through_the_registry_and_kafka(
    settings: Settings, scratch_topic: str
) -> None:
    """A schema registered via the ccompat API serializes a record that reads back equal from Kafka."""
    from decimal import Decimal  # noqa: PLC0415

    registry = registrar(settings).client
    schema_id = registry.register_schema(
        f"{scratch_topic}-value", Schema(json.dumps(RECORD), "AVRO")
    )
    assert registry.get_schema(schema_id).schema_str  # the registry stores and serves it by id

    context = SerializationContext(scratch_topic, MessageField.VALUE)
    record = {"id": str(uuid.uuid4()), "amount": Decimal("1234.50"), "note": None}
    producer = Producer({**as_operator(settings)})
    producer.produce(
        scratch_topic, value=AvroSerializer(registry, json.dumps(RECORD))(record, context)
    )
    assert producer.flush(30) == 0

    (message,) = _read_all(settings, scratch_topic, "read_committed")
    payload = message.value()
    assert payload is not None
    assert payload[0] == 0
    assert (
        int.from_bytes(payload[1:5], "big") == schema_id
    )  # Confluent framing with the registry's id
    assert AvroDeserializer(registry)(payload, context) == record


def test_aborted_transaction_is_invisible_to_read_committed(
    settings: Settings, scratch_topic: str
) -> None:
    """Records of an aborted transaction are skipped by read_committed consumers; committed ones are seen."""
    producer = Producer({**as_operator(settings), "transactional.id": f"tx-{uuid.uuid4()}"})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(scratch_topic, value=b"aborted-1")
    producer.produce(scratch_topic, value=b"aborted-2")
    producer.flush(30)
    producer.abort_transaction(30)
    producer.begin_transaction()
    producer.produce(scratch_topic, value=b"committed")
    producer.commit_transaction(30)

    committed = [m.value() for m in _read_all(settings, scratch_topic, "read_committed")]
    uncommitted = [m.value() for m in _read_all(settings, scratch_topic, "read_uncommitted")]
    assert committed == [b"committed"]
    assert uncommitted == [b"aborted-1", b"aborted-2", b"committed"]


def test_postgres_accepts_writes_and_reads_them_back(settings: Settings, test_id: str) -> None:
    """The psycopg driver connects with the configured URL, writes in a transaction and reads the row back."""
    with psycopg.connect(admin_url(settings)) as conn:
        conn.execute("CREATE TEMP TABLE probe (id text PRIMARY KEY, n int)")
        conn.execute("INSERT INTO probe VALUES (%s, %s)", (test_id, 42))
        assert conn.execute("SELECT n FROM probe WHERE id = %s", (test_id,)).fetchone() == (42,)


def test_design_topics_exist_with_equal_partitions_and_infinite_retention(
    settings: Settings, admin: AdminClient
) -> None:
    """`up` created every DESIGN.md topic with the configured partition count and retention -1."""
    topics = admin.list_topics(timeout=10).topics
    design = [spec for spec in TOPICS if spec.partitions is None and not spec.internal]
    names = [settings.topic(spec.name) for spec in design]
    for name in names:
        assert len(topics[name].partitions) == settings.partitions, name
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in names]
    for resource, future in admin.describe_configs(resources).items():
        config = future.result(timeout=30)
        assert config["retention.ms"].value == "-1", resource
        assert config["retention.bytes"].value == "-1", resource


def test_registry_keeps_schemas_in_postgres(settings: Settings, test_id: str) -> None:
    """Registered schemas live in PostgreSQL, so their ids survive a registry restart."""
    registry = registrar(settings).client
    schema = dict(RECORD, name=f"Ping_{test_id.replace('-', '_')}")
    registry.register_schema(f"{test_id}-value", Schema(json.dumps(schema), "AVRO"))
    with psycopg.connect(admin_url(settings)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM apicurio_registry.artifacts WHERE artifactid = %s",
            (f"{test_id}-value",),
        ).fetchone()
    assert row == (1,)
