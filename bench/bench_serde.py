"""ActionProposed through the topic serde services use (warm schema cache), one core.

``serde.serialize_rps`` and ``serde.deserialize_rps`` measure ``TopicSerde``: Confluent
framing with the id confluent-kafka's registry client looked up, the body written and read
by our compiled codec (the C module), and pydantic validation of the record. Data under
any other schema id goes through confluent-kafka's AvroSerializer / AvroDeserializer,
whose rates on the same record are beside them (``serde.confluent_serialize_rps``,
``serde.confluent_deserialize_rps``, validation included), with fastavro's schemaless
writer alone on the same datum (``serde.fastavro_raw_rps``).
"""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from fastavro import parse_schema, schemaless_writer

from agentledger.bootstrap import catalog, registry_client, topic_serdes
from agentledger.settings import Settings
from bench.result import Result
from domain.events import ActionProposed
from infra.serde.topic_serde import SERIALIZER_CONF

COUNT = int(os.environ.get("BENCH_SERDE_COUNT", "50000"))
GOAL_RPS = 50_000


def run(settings: Settings) -> list[Result]:
    """Serialize and deserialize COUNT proposals; fastavro's raw write rate beside them."""
    serde = topic_serdes(settings, "proposals.v1")["proposals.v1"]
    proposal = _proposal()
    payload = serde.serialize(proposal)  # warms the schema cache
    serde.deserialize(payload)
    contract = catalog()["ActionProposed"]
    parsed = parse_schema(contract.schema)
    datum = contract.to_avro(proposal)

    def raw_write() -> None:
        schemaless_writer(io.BytesIO(), parsed, datum)

    client = registry_client(settings)
    confluent_writer = AvroSerializer(
        client, contract.schema_str, to_dict=lambda record, _ctx: contract.to_avro(record),
        conf=SERIALIZER_CONF,
    )  # fmt: skip
    confluent_reader = AvroDeserializer(client, contract.schema_str)
    context = SerializationContext(serde.topic, MessageField.VALUE)
    if confluent_writer(proposal, context) != payload:  # the same bytes, or no comparison
        raise RuntimeError("confluent-kafka's serializer wrote other bytes than the topic serde")

    def confluent_read() -> object:  # what TopicSerde does with data under a foreign id
        return contract.from_avro(confluent_reader(payload, None))

    if confluent_read() != serde.deserialize(payload):
        raise RuntimeError(
            "confluent-kafka's deserializer read another record than the topic serde"
        )

    serialize_rps = _rate(lambda: serde.serialize(proposal))
    deserialize_rps = _rate(lambda: serde.deserialize(payload))
    return [
        Result("serde.serialize_rps", serialize_rps, "records/s", "higher", GOAL_RPS),
        Result("serde.deserialize_rps", deserialize_rps, "records/s", "higher", GOAL_RPS),
        Result(
            "serde.confluent_serialize_rps",
            _rate(lambda: confluent_writer(proposal, context)),
            "records/s",
            "higher",
        ),
        Result("serde.confluent_deserialize_rps", _rate(confluent_read), "records/s", "higher"),
        Result("serde.fastavro_raw_rps", _rate(raw_write), "records/s", "higher"),
    ]


def _rate(operation: Callable[[], object]) -> float:
    best = 0.0
    for _ in range(3):  # best of three: the machine is shared with the broker
        started = time.perf_counter()
        for _ in range(COUNT):
            operation()
        best = max(best, COUNT / (time.perf_counter() - started))
    return round(best)


def _proposal() -> ActionProposed:
    return ActionProposed.model_validate({  # a refund an agent would plausibly propose
        "metadata": {
            "event_id": uuid.uuid4(), "correlation_id": uuid.uuid4(),
            "occurred_at": datetime.now(UTC),
        },
        "agent_id": "billing-agent-7", "idempotency_key": "refund-2026-0042",
        "resource": {"system": "billing", "type": "invoice", "id": "INV-2026-0042"},
        "action_type": "invoice.refund",
        "parameters": {
            "amount": Decimal("129.90"), "currency": "EUR", "reason": "duplicate charge",
            "notify": True,
        },
        "preconditions": {
            "status": "paid", "amount": Decimal("129.90"), "customer_id": 88123,
        },
        "confidence": 0.82, "estimated_cost": Decimal("0.0400"), "plan_id": "plan-17",
        "rationale": "customer was charged twice for the same order",
    })  # fmt: skip
