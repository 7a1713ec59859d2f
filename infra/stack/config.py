"""What the local stack needs to know, resolved by the composition root from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from infra.kafka_config import KafkaAccess
from infra.stack.secrets import SECRETS_FILE


@dataclass(frozen=True)
class StackConfig:
    """Addresses in effect and, for each component, whether the stack runs it (``local``)."""

    state_dir: Path
    cache_dir: Path
    kafka: KafkaAccess
    """The brokers in effect, as the operator (a super user)."""
    kafka_local: bool
    kafka_port: int
    kafka_controller_port: int
    kafka_version: str
    kafka_heap: str
    registry_url: str
    registry_local: bool
    registry_port: int
    """The registry's public port: the gate in front of Apicurio."""
    registry_backend_port: int
    """Apicurio's own port (loopback; only the gate talks to it)."""
    apicurio_version: str
    registry_heap: str
    database_url: str
    """As the operator's role (the status probe)."""
    registry_database_url: str
    """As the registry's own role (its schema and nothing else)."""
    database_local: bool
    postgres_port: int
    systems_database_url: str
    systems_database_local: bool
    """True when the stack's own PostgreSQL hosts the systems-of-record database."""
    crm_url: str
    crm_local: bool
    crm_port: int
    topic_prefix: str
    partitions: int
    start_timeout_s: float

    @property
    def secrets_file(self) -> Path:
        """The deployment's generated credentials (owner-only)."""
        return self.state_dir / SECRETS_FILE

    @property
    def logs(self) -> Path:
        """Folder of the components' logs."""
        return self.state_dir / "logs"
