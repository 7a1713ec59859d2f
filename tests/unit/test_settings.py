"""Settings: local by default, external once an address is given."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agentledger.bootstrap import stack_config
from agentledger.settings import Settings

pytestmark = pytest.mark.unit


def test_every_component_is_local_when_no_address_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no address set, the stack runs all three components itself on its own ports."""
    for name in ("BOOTSTRAP_SERVERS", "REGISTRY_URL", "DATABASE_URL"):
        monkeypatch.delenv(f"AGENTLEDGER_{name}", raising=False)
    config = stack_config(Settings())
    assert (config.kafka_local, config.registry_local, config.database_local) == (True, True, True)
    assert config.kafka.bootstrap == "127.0.0.1:19092"
    assert config.registry_url == "http://127.0.0.1:18081/apis/ccompat/v7"
    assert config.database_url.endswith("@127.0.0.1:15432/agentledger")


def test_a_set_address_makes_that_component_external(monkeypatch: pytest.MonkeyPatch) -> None:
    """Setting AGENTLEDGER_BOOTSTRAP_SERVERS keeps the stack from starting Kafka, and only Kafka."""
    monkeypatch.setenv("AGENTLEDGER_BOOTSTRAP_SERVERS", "kafka.example:9092")
    monkeypatch.setenv("AGENTLEDGER_KAFKA_USERNAME", "ops")
    monkeypatch.setenv("AGENTLEDGER_KAFKA_PASSWORD", "not-a-default")
    config = stack_config(Settings())
    assert not config.kafka_local
    assert (config.kafka.bootstrap, config.kafka.username) == ("kafka.example:9092", "ops")
    assert config.registry_local
    assert config.database_local


def test_local_ports_follow_their_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Changing a local port changes the address every client uses."""
    monkeypatch.setenv("AGENTLEDGER_KAFKA_PORT", "29092")
    monkeypatch.setenv("AGENTLEDGER_POSTGRES_PORT", "25432")
    settings = Settings()
    assert settings.kafka_bootstrap == "127.0.0.1:29092"
    assert ":25432/" in settings.database


def test_topic_names_carry_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every topic name is the configured prefix plus the topic's own name."""
    monkeypatch.setenv("AGENTLEDGER_TOPIC_PREFIX", "acme.")
    assert Settings().topic("actions.v1") == "acme.actions.v1"


@pytest.mark.parametrize(("name", "value"), [("PARTITIONS", "0"), ("KAFKA_PORT", "70000")])
def test_out_of_range_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """A partition count below 1 or a port above 65535 is a validation error, not a late crash."""
    monkeypatch.setenv(f"AGENTLEDGER_{name}", value)
    with pytest.raises(ValidationError, match=name.lower()):
        Settings()
