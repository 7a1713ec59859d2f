"""Records forged with a stolen producer credential are dropped by every reader and named by the audit."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agentledger.bootstrap import (
    audit_topic,
    projection_store,
    replay,
    topic_serdes,
)
from agentledger.credentials import kafka_access
from agentledger.services import services
from agentledger.settings import Settings
from consumers.observer.records import observation_of
from domain.events import ApprovalRequested
from domain.values import ResourceRef
from infra.chain import HASH, NOTIFICATION, PREVIOUS, link
from infra.connectors.base import Change
from infra.connectors.registry import Connectors
from infra.kafka_config import client_config
from infra.ledger.ledger import Ledger
from infra.partitioner import partition_for
from infra.provenance import SIGNATURE, SIGNER, RecordSigner, header_values
from infra.serde.deadletter import DeadLetter
from projections.actual import actual_state
from projections.approvals import approval_queue
from projections.registry import PROJECTIONS
from tests.conftest import run_cli
from tests.decider_helpers import read_topic
from tests.drift_helpers import fast, running_reconciler
from tests.execution_helpers import agent, decide, resource
from tests.kafka_helpers import as_operator

pytestmark = pytest.mark.integration


def _last(settings: Settings, topic: str, partition: int) -> Message:
    """The last committed record of one partition."""
    consumer = Consumer({**as_operator(settings), "group.id": str(uuid.uuid4()),
                         "isolation.level": "read_committed", "enable.partition.eof": True})  # fmt: skip
    consumer.assign([TopicPartition(settings.topic(topic), partition, 0)])
    last = None
    try:
        while True:
            message = consumer.poll(10)
            assert message is not None, "no answer from Kafka"
            error = message.error()
            if error is not None:
                assert error.code() == KafkaError._PARTITION_EOF, error  # noqa: SLF001
                assert last is not None, "the partition is empty"
                return last
            last = message
    finally:
        consumer.close()


def _as(settings: Settings, service: str) -> Producer:
    """A producer with ``service``'s own Kafka credential (as a thief holding it would)."""
    return Producer(client_config(kafka_access(settings, service), {}))


def _forge_approval_request(settings: Settings, genuine: Message) -> tuple[uuid.UUID, int]:
    """After ``genuine``, an approval request of an action nobody proposed, chained as the relay chains.

    Returns the forged action's id and the forged record's offset.
    """
    serde = topic_serdes(settings, "actions.v1")["actions.v1"]
    record = serde.deserialize(genuine.value())
    assert isinstance(record, ApprovalRequested)
    forged_id = uuid.uuid4()
    metadata = record.metadata.model_copy(update={"event_id": uuid.uuid4()})
    forged = record.model_copy(update={"action_id": forged_id, "metadata": metadata})
    payload = serde.serialize(forged)
    headers = header_values(genuine.headers())
    previous, number = headers[HASH].decode(), int(headers[NOTIFICATION]) + 1
    chain = [(NOTIFICATION, str(number).encode()), (PREVIOUS, previous.encode()),
             (HASH, link(previous, number, payload).encode())]  # fmt: skip
    # the thief signs with a key of its own, naming the relay's key id
    thief = RecordSigner(Ed25519PrivateKey.generate())
    signature = dict(
        thief.headers(
            serde.topic, genuine.partition() or 0, genuine.key(), payload, chain[2][1].decode()
        )
    )
    claimed = [(SIGNER, headers[SIGNER]), (SIGNATURE, signature[SIGNATURE])]
    offsets: list[int] = []
    producer = _as(settings, "relay")
    producer.produce(
        serde.topic, payload, genuine.key(), partition=genuine.partition() or 0,
        headers=[*chain, *claimed], on_delivery=lambda _e, m: offsets.append(m.offset() or 0),
    )  # fmt: skip
    assert producer.flush(30) == 0
    return forged_id, offsets[0]


def _replay(settings: Settings, genuine: Message) -> int:
    """``genuine`` produced again as it is, headers and all; its new offset."""
    offsets: list[int] = []
    producer = _as(settings, "relay")
    producer.produce(
        genuine.topic() or "", genuine.value(), genuine.key(), partition=genuine.partition() or 0,
        headers=genuine.headers(), on_delivery=lambda _e, m: offsets.append(m.offset() or 0),
    )  # fmt: skip
    assert producer.flush(30) == 0
    return offsets[0]


def _forge_observation(settings: Settings, key: str) -> int:
    """An observation of ``key`` with a field value nobody saw, unsigned; its offset."""
    serde = topic_serdes(settings, "observations.v1")["observations.v1"]
    now = datetime.now(UTC)
    change = Change(sequence=10**9, resource=ResourceRef.parse(key), version="999",
                    fields={"tier": "forged"}, deleted=False, changed_at=now)  # fmt: skip
    forged = observation_of("crm", change, now)
    offsets: list[int] = []
    producer = _as(settings, "observer")
    place = partition_for(key.encode(), settings.partitions)
    producer.produce(serde.topic, serde.serialize(forged), key.encode(), partition=place,
                     on_delivery=lambda _e, m: offsets.append(m.offset() or 0))  # fmt: skip
    assert producer.flush(30) == 0
    return offsets[0]


def _letters(settings: Settings, wanted: int) -> list[DeadLetter]:
    deadline = time.monotonic() + 60
    while True:
        found = [r for r in read_topic(settings, "deadletter.v1", until=wanted, timeout_s=5)
                 if isinstance(r, DeadLetter)]  # fmt: skip
        if len(found) >= wanted or time.monotonic() > deadline:
            return found
        time.sleep(1)


def _refusals(
    settings: Settings, letters: list[DeadLetter]
) -> tuple[dict[str, set[str]], dict[tuple[str, int], str]]:
    """Who refused records of each topic; each refusal's reason by (reader, offset)."""
    by_topic: dict[str, set[str]] = {}
    refused: dict[tuple[str, int], str] = {}
    for letter in letters:
        assert letter.error_code == "unproven", letter.error
        reader = letter.consumer.split(":")[0]
        by_topic.setdefault(letter.origin.topic.removeprefix(settings.topic_prefix), set()).add(
            reader
        )
        refused[(reader, letter.origin.offset)] = letter.error
    return by_topic, refused


def test_forged_records_are_dropped_by_every_reader_and_the_audit_names_them(
    isolated: Settings, own_ledger: Ledger, systems: Connectors, tmp_path: Path
) -> None:
    """Forged with the relay's and the observer's credentials: dead-lettered by all, named by the audit.

    A thief forges an approval request (chained after the last genuine record) and an
    observation, and produces a genuine record again: the executor, each projector and the
    reconciler dead-letter them, nothing of them reaches a view, the next genuine record is
    taken, and `audit verify --topic` names each forged record and the replayed one.
    """
    settings = fast(isolated)
    bot = agent(own_ledger)
    key = resource("crm", "contact")
    place = partition_for(key.encode(), settings.partitions)
    readers = {
        "actions.v1": {"executor", f"{settings.topic_prefix}reconciler.{settings.ledger_name}",
                       *(f"{settings.topic_prefix}projector.{name}"
                         for name, view in PROJECTIONS.items() if "actions.v1" in view.topics)},
        "observations.v1": {f"{settings.topic_prefix}reconciler.{settings.ledger_name}",
                            *(f"{settings.topic_prefix}projector.{name}"
                              for name, view in PROJECTIONS.items() if "observations.v1" in view.topics)},
    }  # fmt: skip
    store = projection_store(settings)
    with (
        services(settings, own_ledger, systems, observe=False),
        running_reconciler(settings, tmp_path / "reconciler.log"),
    ):
        first = decide(own_ledger, bot, key)
        _wait_queued(settings, store.prefix, first)
        genuine = _last(settings, "actions.v1", place)
        forged_id, forged_at = _forge_approval_request(settings, genuine)
        replayed_at = _replay(settings, genuine)
        observed_at = _forge_observation(settings, key)
        later = decide(own_ledger, bot, key)  # relayed after the forgery, chained to the genuine
        _wait_queued(settings, store.prefix, later)
        wanted = 2 * len(readers["actions.v1"]) + len(readers["observations.v1"])
        letters = _letters(settings, wanted)
    by_topic, refused = _refusals(settings, letters)
    assert by_topic == readers
    for reader in readers["actions.v1"]:  # the replayed genuine record too, live
        assert "signature does not match" in refused[(reader, forged_at)]
        assert refused[(reader, replayed_at)].startswith("replayed: number "), reader
    with psycopg.connect(store.url) as conn:
        queued = {q.action_id for q in approval_queue(conn, store.prefix)}
        actual = actual_state(conn, store.prefix, key)
    assert forged_id not in queued
    assert queued == {first, later}
    assert actual is None or actual.fields.get("tier") != "forged"
    actions = audit_topic(settings, "actions.v1")
    assert len(actions.findings) == 2, actions.findings
    assert f"partition {place} offset {forged_at}: " in actions.findings[0]
    assert "signature does not match this record: forged" in actions.findings[0]
    assert f"partition {place} offset {replayed_at}: notification " in actions.findings[1]
    assert "replayed or reordered" in actions.findings[1]
    observations = audit_topic(settings, "observations.v1")
    assert len(observations.findings) == 1
    assert (
        f"partition {place} offset {observed_at}: not signed: a forgery" in observations.findings[0]
    )
    # a rebuild leaves them out too: the forgeries, and the replayed approval request
    for view, skipped in (("approvals", 2), ("actual", 1)):
        assert replay(settings, view, None, lambda _d, _t: None).skipped == skipped, view
    with psycopg.connect(store.url) as conn:
        assert {q.action_id for q in approval_queue(conn, store.prefix)} == {first, later}
        actual = actual_state(conn, store.prefix, key)
    assert actual is None or actual.fields.get("tier") != "forged"
    env = {"AGENTLEDGER_LEDGER_NAME": settings.ledger_name,
           "AGENTLEDGER_TOPIC_PREFIX": settings.topic_prefix}  # fmt: skip
    result = run_cli("audit", "verify", "--topic", "actions.v1", env=env)
    assert result.returncode == 1, result.stdout
    assert f"partition {place} offset {forged_at}" in result.stderr


def _wait_queued(settings: Settings, prefix: str, action: uuid.UUID) -> None:
    deadline = time.monotonic() + 60
    url = projection_store(settings).url
    while True:
        with psycopg.connect(url) as conn:
            if action in {q.action_id for q in approval_queue(conn, prefix)}:
                return
        assert time.monotonic() < deadline, f"{action} never reached the approval queue"
        time.sleep(0.3)
