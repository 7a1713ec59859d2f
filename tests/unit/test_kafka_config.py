"""Every Kafka client of ours starts from one configuration, with a short reconnect backoff."""

from __future__ import annotations

from pathlib import Path

from infra.kafka_config import client_config

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("agentledger", "consumers", "projections", "infra", "bench")


def test_a_client_config_shortens_the_reconnect_backoff_and_lets_its_caller_override() -> None:
    """The bootstrap and the 10 ms reconnect backoff come first; a caller's own settings win."""
    assert client_config("127.0.0.1:9092") == {
        "bootstrap.servers": "127.0.0.1:9092", "reconnect.backoff.ms": 10,
    }  # fmt: skip
    assert client_config("h:1", {"linger.ms": 5, "reconnect.backoff.ms": 100}) == {
        "bootstrap.servers": "h:1", "reconnect.backoff.ms": 100, "linger.ms": 5,
    }  # fmt: skip


def test_no_client_outside_the_tests_names_its_bootstrap_servers_itself() -> None:
    """Clients are configured through ``client_config``, so none waits out the default backoff."""
    own = ROOT / "infra" / "kafka_config.py"
    offenders = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != own and '"bootstrap.servers"' in path.read_text()
    ]
    assert offenders == []
