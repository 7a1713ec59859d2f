"""Every Kafka client of ours starts from one configuration, with a short reconnect backoff."""

from __future__ import annotations

from pathlib import Path

from infra.kafka_config import KafkaAccess, client_config

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("agentledger", "consumers", "projections", "infra", "bench")


SASL = {
    "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.username": "decider", "sasl.password": "pw",
}  # fmt: skip


def test_a_client_config_authenticates_shortens_the_backoff_and_lets_its_caller_override() -> None:
    """Bootstrap, SCRAM credential and the 10 ms reconnect backoff first; a caller's settings win."""
    kafka = KafkaAccess("127.0.0.1:9092", "decider", "pw")
    assert client_config(kafka) == {
        "bootstrap.servers": "127.0.0.1:9092", **SASL, "reconnect.backoff.ms": 10,
    }  # fmt: skip
    assert client_config(kafka, {"linger.ms": 5, "reconnect.backoff.ms": 100}) == {
        "bootstrap.servers": "127.0.0.1:9092", **SASL, "reconnect.backoff.ms": 100,
        "linger.ms": 5,
    }  # fmt: skip


def test_a_kafka_credential_never_shows_its_password() -> None:
    """``repr`` (logs, tracebacks) names the user, not the password."""
    shown = repr(KafkaAccess("127.0.0.1:9092", "decider", "s3cret-value"))
    assert "decider" in shown
    assert "s3cret-value" not in shown


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
