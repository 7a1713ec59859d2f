"""Contracts through the real registry: round trips, evolution, refusal, and bad input."""

from __future__ import annotations

import contextlib
import json
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import (
    Schema,
    SchemaRegistryClient,
    record_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentledger.bootstrap import SCHEMAS_DIR, catalog, registrar, topic_serdes
from agentledger.settings import Settings
from domain.events import ActionProposed, DriftDetected
from domain.events.proposals import KafkaPosition
from infra.serde.catalog import TOP_LEVEL, Catalog
from infra.serde.compat import backward_problems
from infra.serde.deadletter import DeadLetter, dead_letter_for
from infra.serde.errors import (
    BadRecord,
    InvalidRecord,
    NotConfluentAvro,
    PayloadTooLarge,
    UnexpectedRecordType,
    UnknownSchemaId,
)
from infra.serde.gate import check_contracts
from infra.serde.registrar import Registrar
from infra.serde.topic_serde import TopicSerde
from tests.kafka_helpers import as_operator
from tests.strategies import records

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(settings: Settings) -> SchemaRegistryClient:
    """A registry client as the operator, with every contract registered (idempotent)."""
    operator = registrar(settings)
    operator.register(catalog())
    return operator.client


@pytest.fixture(scope="module")
def any_serde(client: SchemaRegistryClient) -> TopicSerde:
    """A serde that carries every record type, to round-trip them all."""
    return TopicSerde("test.all-records", list(catalog()), client, max_bytes=1_048_576)


@pytest.fixture(scope="module")
def serdes(settings: Settings) -> dict[str, TopicSerde]:
    """The real per-topic serdes, as services build them."""
    return topic_serdes(settings, "proposals.v1", "actions.v1", "drift.v1", "deadletter.v1")


def _proposal(**changes: Any) -> ActionProposed:
    fields: dict[str, Any] = {
        "metadata": {"event_id": uuid.uuid4(), "correlation_id": uuid.uuid4(), "occurred_at": datetime.now(UTC)},
        "agent_id": "agent-1", "idempotency_key": "k-1",
        "resource": {"system": "crm", "type": "contact", "id": "42"},
        "action_type": "contact.update", "parameters": {"email": "a@b.c", "score": 7},
        "preconditions": {"email": "old@b.c"}, "confidence": 0.9,
    }  # fmt: skip
    return ActionProposed.model_validate(fields | changes)


def test_a_registrar_checks_every_subject_through_the_one_http_client_it_holds(
    settings: Settings, client: SchemaRegistryClient
) -> None:
    """Subject checks reuse one client: a new one per call cost ~30 ms (its SSL context)."""
    requests: list[httpx.Request] = []
    with httpx.Client(timeout=10, event_hooks={"request": [requests.append]}) as http:
        Registrar(client, settings.registry, http).register(catalog())
    subjects = {contract.fullname for contract in catalog()}
    assert [request.method for request in requests] == ["GET"] * len(subjects)
    assert {request.url.path.rsplit("/", 1)[1] for request in requests} == subjects


@pytest.mark.parametrize("cls", TOP_LEVEL, ids=lambda cls: cls.__name__)
@settings(
    max_examples=10,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    deadline=None,
)
@given(data=st.data())
def test_every_record_type_round_trips_through_the_real_registry(
    cls: type[Any], data: st.DataObject, any_serde: TopicSerde
) -> None:
    """Serialize -> Confluent-framed bytes -> deserialize gives back the identical record."""
    record = data.draw(records(cls))
    back = any_serde.deserialize(any_serde.serialize(record))
    assert type(back) is cls
    assert repr(back.model_dump()) == repr(record.model_dump())


def test_payload_carries_the_id_registered_for_the_record_subject(
    client: SchemaRegistryClient, serdes: dict[str, TopicSerde]
) -> None:
    """The framing holds the schema id of subject agentledger.v1.ActionProposed (record-name strategy)."""
    payload = serdes["proposals.v1"].serialize(_proposal())
    contract = catalog()["ActionProposed"]
    registered = client.lookup_schema(contract.fullname, Schema(contract.schema_str, "AVRO"))
    assert payload[0] == 0
    assert int.from_bytes(payload[1:5], "big") == registered.schema_id


def test_an_event_travels_through_kafka_keyed_by_resource(
    settings: Settings, serdes: dict[str, TopicSerde]
) -> None:
    """A proposal produced to proposals.v1 under its resource key is consumed and decoded equal."""
    proposal = _proposal(idempotency_key=str(uuid.uuid4()))
    topic = settings.topic("proposals.v1")
    producer = Producer({**as_operator(settings)})
    where: list[tuple[int | None, int | None]] = []
    producer.produce(topic, key=proposal.resource.key.encode(), value=serdes["proposals.v1"].serialize(proposal),
                     on_delivery=lambda _err, msg: where.append((msg.partition(), msg.offset())))  # fmt: skip
    assert producer.flush(30) == 0
    consumer = Consumer(
        {
            **as_operator(settings),
            "group.id": f"t-{uuid.uuid4()}",
            "isolation.level": "read_committed",
        }
    )
    partition, offset = where[0]
    assert partition is not None
    assert offset is not None
    consumer.assign([TopicPartition(topic, partition, offset)])
    message = consumer.poll(30)
    consumer.close()
    assert message is not None
    assert message.key() == b"crm/contact/42"
    assert serdes["proposals.v1"].deserialize(message.value()) == proposal


def test_a_field_added_with_a_default_reads_both_ways(
    client: SchemaRegistryClient, settings: Settings
) -> None:
    """Old reader reads new data (ignores the field); new reader reads old data (fills the default)."""
    name = f"Evolving{uuid.uuid4().hex[:8]}"
    v1 = {"type": "record", "name": name, "namespace": "agentledger.test", "doc": "d",
          "fields": [{"name": "id", "type": "string", "doc": "d"}]}  # fmt: skip
    v2 = {
        **v1,
        "fields": [
            *v1["fields"],
            {"name": "note", "type": "string", "default": "none", "doc": "d"},
        ],
    }
    subject = f"agentledger.test.{name}"
    client.register_schema(subject, Schema(json.dumps(v1), "AVRO"))
    registrar(settings).set_compatibility(subject, "BACKWARD_TRANSITIVE")
    client.register_schema(subject, Schema(json.dumps(v2), "AVRO"))
    conf = {"auto.register.schemas": False, "subject.name.strategy": record_subject_name_strategy}
    context = SerializationContext("test.evolution", MessageField.VALUE)

    def write(schema: dict[str, Any], datum: dict[str, Any]) -> bytes:
        return AvroSerializer(client, json.dumps(schema), conf=conf)(datum, context)  # type: ignore[no-any-return]

    def read(schema: dict[str, Any], payload: bytes) -> Any:
        return AvroDeserializer(client, json.dumps(schema))(payload, context)

    assert read(v1, write(v2, {"id": "a", "note": "new"})) == {"id": "a"}
    assert read(v2, write(v1, {"id": "b"})) == {"id": "b", "note": "none"}


def test_an_incompatible_change_is_refused_by_registry_and_named_by_the_gate(
    client: SchemaRegistryClient, settings: Settings, tmp_path: Path
) -> None:
    """Changing ActionProposed.confidence to a string: the registry answers 409, the gate names record and field."""
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMAS_DIR, schemas)
    path = schemas / "agentledger.v1.ActionProposed.avsc"
    schema = json.loads(path.read_text())
    next(f for f in schema["fields"] if f["name"] == "confidence")["type"] = "string"
    path.write_text(json.dumps(schema))
    broken = Catalog(schemas)["ActionProposed"]

    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema(broken.fullname, Schema(broken.schema_str, "AVRO"))
    assert refused.value.http_status_code == 409

    findings = check_contracts(Catalog(schemas), registrar(settings))
    assert {(f.record, f.problem) for f in findings} >= {
        ("ActionProposed", "ActionProposed.confidence: type changed from double to string"),
        ("ActionProposed", "the registry refuses it"),
    }
    assert backward_problems(broken.schema, catalog()["ActionProposed"].schema)


def _framed(client: SchemaRegistryClient, record_name: str, datum: dict[str, Any]) -> bytes:
    """Confluent-framed bytes written straight with fastavro, bypassing our validation."""
    contract = catalog()[record_name]
    conf = {"auto.register.schemas": False, "subject.name.strategy": record_subject_name_strategy}
    context = SerializationContext("test.raw", MessageField.VALUE)
    return AvroSerializer(client, contract.schema_str, conf=conf)(datum, context)  # type: ignore[no-any-return]


BAD_INPUTS: dict[str, tuple[type[BadRecord], Callable[[SchemaRegistryClient, dict[str, TopicSerde]], bytes | None]]] = {
    "no payload": (NotConfluentAvro, lambda _c, _s: None),
    "plain text": (NotConfluentAvro, lambda _c, _s: b"hello, not avro"),
    "json": (NotConfluentAvro, lambda _c, _s: b'{"agent_id": "x"}'),
    "truncated frame": (NotConfluentAvro, lambda _c, _s: b"\x00\x00\x01"),
    "unknown schema id": (UnknownSchemaId, lambda _c, _s: b"\x00\x7f\xff\xff\xf0" + b"\x02ab"),
    "garbage body": (InvalidRecord, lambda _c, s: s["proposals.v1"].serialize(_proposal())[:5] + b"\xff" * 9),
    "truncated body": (InvalidRecord, lambda _c, s: s["proposals.v1"].serialize(_proposal())[:-7]),
    "fails validation": (InvalidRecord, lambda c, _s: _framed(c, "ActionProposed", {
        **catalog()["ActionProposed"].to_avro(_proposal()), "confidence": 7.5})),
    "wrong record for topic": (UnexpectedRecordType, lambda _c, s: s["drift.v1"].serialize(
        DriftDetected.model_validate({"metadata": _proposal().metadata, "alert_id": "a1",
            "resource": {"system": "crm", "type": "contact", "id": "1"}, "drift_class": "stale_belief",
            "severity": "info", "fields": [], "contradicts": [], "explanation": "x"}))),
    "oversized": (PayloadTooLarge, lambda c, _s: _framed(c, "ActionProposed", catalog()["ActionProposed"].to_avro(
        _proposal(parameters={f"p{i}": "y" * 1000 for i in range(1100)})))),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_INPUTS, ids=str)
def test_bad_input_becomes_a_typed_error_and_a_dead_letter(
    case: str, client: SchemaRegistryClient, serdes: dict[str, TopicSerde]
) -> None:
    """Each kind of bad bytes raises its own BadRecord, which becomes a dead letter that round-trips."""
    error_type, make = BAD_INPUTS[case]
    payload = make(client, serdes)
    with pytest.raises(error_type) as caught:
        serdes["proposals.v1"].deserialize(payload)
    letter = dead_letter_for(
        caught.value, origin=KafkaPosition(topic="agentledger.proposals.v1", partition=0, offset=7),
        key=b"crm/contact/42", payload=payload, headers={"h": b"v"}, consumer="decider",
        clock=lambda: datetime.now(UTC), new_id=uuid.uuid4,
    )  # fmt: skip
    assert letter.error_code == error_type.code
    assert letter.error
    back = serdes["deadletter.v1"].deserialize(serdes["deadletter.v1"].serialize(letter))
    assert isinstance(back, DeadLetter)
    assert back.payload == payload


def test_an_oversized_record_is_refused_when_serializing_too(serdes: dict[str, TopicSerde]) -> None:
    """A producer cannot emit what a consumer would refuse: the limit holds on both sides."""
    with pytest.raises(PayloadTooLarge):
        serdes["proposals.v1"].serialize(
            _proposal(parameters={f"p{i}": "y" * 1000 for i in range(1100)})
        )


@settings(
    max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(body=st.binary(max_size=300), framed=st.booleans(), schema_id=st.integers(0, 60))
def test_random_bytes_never_escape_as_anything_but_a_bad_record(
    body: bytes,
    framed: bool,  # noqa: FBT001  # drawn by hypothesis
    schema_id: int,
    serdes: dict[str, TopicSerde],
) -> None:
    """Fuzzed payloads (raw, or framed with real and unknown ids) only ever raise BadRecord."""
    payload = (b"\x00" + schema_id.to_bytes(4, "big") + body) if framed else body
    with contextlib.suppress(BadRecord):  # anything else escaping fails the test
        serdes["proposals.v1"].deserialize(payload)
