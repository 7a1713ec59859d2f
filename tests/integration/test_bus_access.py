"""Attacks on the bus, made without a credential and with another principal's: all refused.

Each attack is one that worked while the broker had a PLAINTEXT listener and no
authorizer. The intruders: an anonymous client (no SASL), an agent (its own valid SCRAM
user), and a service that is not the one allowed. After each refusal nothing changed:
the topic's end offset, its config, the group's committed offsets.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ConfigResource,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)

from agentledger.bootstrap import enroll_agent
from agentledger.credentials import kafka_access
from agentledger.settings import Settings
from infra.kafka_config import client_config
from tests.conftest import run_cli
from tests.kafka_helpers import as_operator

pytestmark = pytest.mark.integration

ANONYMOUS = "anonymous"
REFUSED = {
    KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED, KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
}  # fmt: skip
QUICK = {"message.timeout.ms": 5000, "socket.timeout.ms": 3000, "log_level": 0}


@pytest.fixture
def intruder_agent(isolated: Settings) -> str:
    """A registered agent's valid Kafka user on the isolated deployment."""
    agent = f"intruder-{uuid.uuid4().hex[:6]}"
    return enroll_agent(isolated, agent)[0].username


def _config(settings: Settings, who: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    if who == ANONYMOUS:
        return {"bootstrap.servers": settings.kafka_bootstrap, **QUICK, **(extra or {})}
    return client_config(kafka_access(settings, who), {**QUICK, **(extra or {})})


def _end(settings: Settings, topic: str) -> list[int]:
    consumer = Consumer({**as_operator(settings), "group.id": f"operator.check-{uuid.uuid4()}"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return [
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in sorted(partitions)
        ]
    finally:
        consumer.close()


def _produce(settings: Settings, who: str, topic: str) -> KafkaError | None:
    """Produce one record as ``who``; the delivery error, ``None`` if it was written."""
    producer = Producer(_config(settings, who))
    outcome: list[KafkaError | None] = []
    producer.produce(
        topic, key=b"crm/contact/1", value=b"forged", on_delivery=lambda e, _m: outcome.append(e)
    )
    producer.flush(15)
    return outcome[0] if outcome else KafkaError(KafkaError._MSG_TIMED_OUT)  # noqa: SLF001


def _refused(error: KafkaError | None, who: str) -> bool:
    if error is None:
        return False
    if who == ANONYMOUS:  # the SASL listener drops it before any request
        return True
    return error.code() in REFUSED


def _wrong_writers(agent: str, *services: str) -> list[str]:
    return [ANONYMOUS, agent, *services]


@pytest.mark.parametrize(
    ("topic", "services"),
    [
        ("actions.v1", ("executor", "decider")),
        ("agents.v1", ("projector",)),
        ("policies.v1", ("decider",)),
        ("relay-positions.v1", ("observer",)),
        ("observations.v1", ("relay", "reconciler")),
        ("observer-positions.v1", ("relay",)),
        ("drift.v1", ("projector", "observer")),
    ],
)
def test_a_topic_only_its_writer_may_write_refuses_everyone_else(
    isolated: Settings, intruder_agent: str, topic: str, services: tuple[str, ...]
) -> None:
    """Forged Approved/MutationApplied, observations, positions or alerts never land."""
    name = isolated.topic(topic)
    before = _end(isolated, name)
    for who in _wrong_writers(intruder_agent, *services):
        error = _produce(isolated, who, name)
        assert _refused(error, who), f"{who} wrote to {topic}: {error}"
    assert _end(isolated, name) == before, "a refused record landed anyway"


def test_an_agent_may_propose_but_an_anonymous_client_may_not(
    isolated: Settings, intruder_agent: str
) -> None:
    """The agent's own credential writes proposals; no credential writes nothing."""
    name = isolated.topic("proposals.v1")
    before = sum(_end(isolated, name))
    assert _refused(_produce(isolated, ANONYMOUS, name), ANONYMOUS)
    assert sum(_end(isolated, name)) == before
    assert _produce(isolated, intruder_agent, name) is None
    assert sum(_end(isolated, name)) == before + 1


@pytest.mark.parametrize("topic", ["actions.v1", "proposals.v1", "observations.v1"])
def test_an_agent_reads_no_topic(isolated: Settings, intruder_agent: str, topic: str) -> None:
    """Its decisions reach an agent through the API, with its token; the bus lets it read nothing.

    The group is refused (the agent has none), and the topic: its metadata where the agent
    may not even describe it, its records where it may (its own proposals).
    """
    consumer = Consumer(_config(isolated, intruder_agent, {"group.id": f"{intruder_agent}.peek"}))
    name = isolated.topic(topic)
    seen: set[int] = set()
    try:
        found = consumer.list_topics(name, timeout=10).topics[name].error
        if found is not None:  # no Describe either: its metadata is refused outright
            seen.add(found.code())
        consumer.assign([TopicPartition(name, 0, 0)])
        deadline = time.monotonic() + 20
        while KafkaError.TOPIC_AUTHORIZATION_FAILED not in seen and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None:
                error = message.error()
                assert error is not None, "an agent read a record"
                seen.add(error.code())
    finally:
        consumer.close()
    assert KafkaError.TOPIC_AUTHORIZATION_FAILED in seen, seen


def _admin_attacks(admin: AdminClient, settings: Settings) -> dict[str, Any]:
    actions = settings.topic("actions.v1")
    retention = ConfigResource(ResourceType.TOPIC, actions, set_config={"retention.ms": "1000"})
    grab = AclBinding(
        ResourceType.TOPIC, "*", ResourcePatternType.LITERAL, "User:*", "*",
        AclOperation.ALL, AclPermissionType.ALLOW,
    )  # fmt: skip
    return {
        "delete a topic": admin.delete_topics([actions], operation_timeout=10)[actions],
        "shorten retention": admin.alter_configs([retention])[retention],
        "create a topic": admin.create_topics([NewTopic(settings.topic("x.v1"), 1, 1)])[
            settings.topic("x.v1")
        ],
        "grant itself everything": admin.create_acls([grab])[grab],
    }


@pytest.mark.parametrize("service", ["decider", "executor", "reconciler"])
def test_only_the_operator_may_delete_alter_or_create_topics_and_acls(
    isolated: Settings, intruder_agent: str, service: str
) -> None:
    """Deleting a topic, shortening its retention, creating topics or ACLs: all refused."""
    actions = isolated.topic("actions.v1")
    operator = AdminClient(as_operator(isolated))
    config = ConfigResource(ResourceType.TOPIC, actions)
    retention_before = operator.describe_configs([config])[config].result(10)["retention.ms"].value
    for who in (intruder_agent, service):
        intruder = AdminClient(_config(isolated, who))
        for attack, future in _admin_attacks(intruder, isolated).items():
            with pytest.raises(KafkaException) as refused:
                future.result(15)
            assert refused.value.args[0].code() in REFUSED, f"{who} could {attack}"
    assert actions in operator.list_topics(timeout=10).topics
    assert isolated.topic("x.v1") not in operator.list_topics(timeout=10).topics
    after = operator.describe_configs([config])[config].result(10)["retention.ms"].value
    assert after == retention_before


def test_nobody_else_may_move_the_executors_offsets(
    isolated: Settings, intruder_agent: str
) -> None:
    """Committing the executor group past an Authorized record is refused; nothing commits."""
    group = f"{isolated.topic_prefix}executor.{isolated.ledger_name}"
    where = TopicPartition(isolated.topic("actions.v1"), 0, 1000)
    for who in (intruder_agent, "decider", "projector"):
        # a commit waits for the refused coordinator lookup up to the session timeout
        consumer = Consumer(_config(isolated, who, {"group.id": group, "session.timeout.ms": 6000}))
        try:
            assert _commit_refusal(consumer, where) in REFUSED, who
        finally:
            consumer.close()
    looking = Consumer({**as_operator(isolated), "group.id": group})
    try:
        committed = looking.committed([TopicPartition(where.topic, 0)], timeout=10)
    finally:
        looking.close()
    assert committed[0].offset < 0, "an offset was committed for the executor"


def _commit_refusal(consumer: Consumer, where: TopicPartition) -> int:
    """The error code of committing ``where``; a refused coordinator lookup arrives by poll."""
    try:
        consumer.commit(offsets=[where], asynchronous=False)
    except KafkaException as exc:
        code = int(exc.args[0].code())
        if code != KafkaError._WAIT_COORD:  # noqa: SLF001  # librdkafka's public local code
            return code
    else:
        return int(KafkaError.NO_ERROR)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        event = consumer.poll(1)
        error = None if event is None else event.error()
        if error is not None:
            return int(error.code())
    return int(KafkaError._WAIT_COORD)  # noqa: SLF001


def test_nobody_else_may_take_the_relays_transactional_id(
    isolated: Settings, intruder_agent: str
) -> None:
    """Initialising the relay's transactional id (which would fence the relay) is refused."""
    relay_id = f"{isolated.topic_prefix}relay.{isolated.ledger_name}"
    for who in (intruder_agent, "executor", "observer"):
        producer = Producer(_config(isolated, who, {"transactional.id": relay_id}))
        with pytest.raises(KafkaException) as refused:
            producer.init_transactions(15)
        assert refused.value.args[0].code() in REFUSED, who


def test_a_service_run_with_another_services_credential_stops_naming_user_and_refusal(
    isolated: Settings,
) -> None:
    """The relay started as the decider fails at its first forbidden call, and says so."""
    password = kafka_access(isolated, "decider").password
    env = {
        "AGENTLEDGER_TOPIC_PREFIX": isolated.topic_prefix,
        "AGENTLEDGER_LEDGER_NAME": isolated.ledger_name,
        "AGENTLEDGER_KAFKA_USERNAME": "decider",
        "AGENTLEDGER_KAFKA_PASSWORD": password,
    }
    done = run_cli("relay", env=env, timeout=120)
    assert done.returncode != 0
    assert "Kafka refused Kafka user 'decider'" in done.stderr, done.stderr
    assert "AUTHORIZATION_FAILED" in done.stderr
    assert password not in done.stderr + done.stdout


def test_a_right_the_table_dropped_is_withdrawn_when_the_principal_is_provisioned_again(
    isolated: Settings,
) -> None:
    """An agent enrolled when agents could still read actions.v1 loses that right at its next enrolment."""
    agent = f"old-{uuid.uuid4().hex[:6]}"
    user = enroll_agent(isolated, agent)[0].username
    admin = AdminClient(as_operator(isolated))
    stale = AclBinding(
        ResourceType.TOPIC, isolated.topic("actions.v1"), ResourcePatternType.LITERAL,
        f"User:{user}", "*", AclOperation.READ, AclPermissionType.ALLOW,
    )  # fmt: skip
    admin.create_acls([stale])[stale].result(30)
    enroll_agent(isolated, agent)
    mine = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, f"User:{user}", None,  # type: ignore[arg-type]  # None: any
        AclOperation.ANY, AclPermissionType.ANY,
    )  # fmt: skip
    held = admin.describe_acls(mine, request_timeout=30).result(30)
    assert [(b.name, b.operation) for b in held if b.operation == AclOperation.READ] == []
    assert {b.name for b in held} == {isolated.topic("proposals.v1")}
