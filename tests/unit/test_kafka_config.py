"""Every Kafka client of ours starts from one configuration, with Nagle's algorithm off."""

from __future__ import annotations

from pathlib import Path

from infra.kafka_config import client_config

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("agentledger", "consumers", "projections", "infra", "bench")


def test_a_client_config_turns_nagle_off_and_lets_its_caller_override() -> None:
    """The bootstrap, Nagle's switch and the reconnect backoff come first; a caller's own win."""
    assert client_config("127.0.0.1:9092") == {
        "bootstrap.servers": "127.0.0.1:9092", "socket.nagle.disable": True,
        "reconnect.backoff.ms": 10,
    }  # fmt: skip
    assert client_config("h:1", {"linger.ms": 5, "socket.nagle.disable": False}) == {
        "bootstrap.servers": "h:1", "socket.nagle.disable": False, "reconnect.backoff.ms": 10,
        "linger.ms": 5,
    }  # fmt: skip


def test_no_client_outside_the_tests_names_its_bootstrap_servers_itself() -> None:
    """Clients are configured through ``client_config``, so none keeps librdkafka's Nagle default."""
    own = ROOT / "infra" / "kafka_config.py"
    offenders = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != own and '"bootstrap.servers"' in path.read_text()
    ]
    assert offenders == []
