"""The broker configuration and the topic table, checked without starting anything."""

from __future__ import annotations

import json
import re
from pathlib import Path
from unittest import mock

import pytest

from agentledger.bootstrap import stack_config
from agentledger.settings import Settings
from infra.stack.errors import StackError
from infra.stack.kafka import LocalKafka, new_cluster_id
from infra.stack.secrets import Secrets
from infra.topics import TOPICS

pytestmark = pytest.mark.unit


def _properties(tmp_path: Path) -> dict[str, str]:
    config = stack_config(Settings(state_dir=tmp_path, kafka_port=29092, partitions=3))
    secrets = Secrets(tmp_path / "secrets.json")
    text = LocalKafka(config, report=lambda _: None, secrets=secrets).server_properties()
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_single_node_broker_uses_replication_factor_one_everywhere(tmp_path: Path) -> None:
    """Internal topics of a one-node cluster must have RF 1 and min ISR 1 or groups and transactions break."""
    props = _properties(tmp_path)
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
    ):
        assert props[key] == "1", key


def test_broker_never_creates_topics_implicitly(tmp_path: Path) -> None:
    """Topics are created explicitly with their configs, so auto-creation is off."""
    assert _properties(tmp_path)["auto.create.topics.enable"] == "false"


def test_broker_listens_on_the_configured_loopback_port(tmp_path: Path) -> None:
    """The client listener and the advertised address follow the kafka_port setting."""
    props = _properties(tmp_path)
    assert "CLIENT://127.0.0.1:29092" in props["listeners"]
    assert props["advertised.listeners"] == "CLIENT://127.0.0.1:29092"
    assert props["log.dirs"] == str(tmp_path.resolve() / "kafka" / "data")


def test_every_listener_authenticates_and_nothing_is_allowed_without_an_acl(
    tmp_path: Path,
) -> None:
    """SCRAM on the client listener, the controller's own PLAIN user only, deny by default."""
    props = _properties(tmp_path)
    assert props["listener.security.protocol.map"] == (
        "CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
    )
    assert props["listener.name.client.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:broker;User:controller;User:operator"
    controller = props["listener.name.controller.plain.sasl.jaas.config"]
    assert controller.count("user_") == 1, "the controller listener knows one user: itself"
    secrets = json.loads((tmp_path / "secrets.json").read_text())
    assert secrets["kafka.controller"] in controller, "generated per deployment, not a default"


def test_topic_table_matches_the_design() -> None:
    """All seven DESIGN.md topics exist, versioned, each retained forever (they are the replay source)."""
    design = [s for s in TOPICS if s.partitions is None and not s.internal]
    names = {spec.name for spec in design}
    assert names == {
        "proposals.v1", "actions.v1", "observations.v1", "drift.v1",
        "agents.v1", "policies.v1", "deadletter.v1",
    }  # fmt: skip
    for spec in design:
        assert spec.config["retention.ms"] == "-1", spec.name
        assert spec.config["retention.bytes"] == "-1", spec.name


def test_stack_error_names_component_problem_and_log(tmp_path: Path) -> None:
    """A stack error reads as one line: which component, what failed, where its log is."""
    error = StackError("kafka", "not healthy after 60s", tmp_path / "kafka.log")
    assert str(error) == f"kafka: not healthy after 60s (log: {tmp_path / 'kafka.log'})"


def test_a_cluster_id_never_starts_with_a_dash() -> None:
    """An id like '-x...' reads as an option to kafka-storage, and formatting fails: such draws are redrawn."""
    leading_dash = b"\xf8" + bytes(15)  # base64 of 0xf8... starts with '-'
    draws = [mock.Mock(bytes=leading_dash), mock.Mock(bytes=bytes(16))]
    with mock.patch("infra.stack.kafka.uuid.uuid4", side_effect=draws):
        assert new_cluster_id() == "AAAAAAAAAAAAAAAAAAAAAA"
    assert all(
        re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", new_cluster_id()) for _ in range(2000)
    )
