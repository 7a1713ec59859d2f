"""All configuration of agentledger, read from the environment (prefix ``AGENTLEDGER_``).

Only the composition root (:mod:`agentledger.bootstrap`) builds a :class:`Settings`.
An address left unset means "use the local stack": the project starts that component
itself. An address that is set means the component is external and is never started.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, computed_field
from pydantic_settings import BaseSettings, SettingsConfigDict

Port = Annotated[int, Field(ge=1, le=65535)]

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every setting, with its default; the README's settings table documents each one."""

    model_config = SettingsConfigDict(env_prefix="AGENTLEDGER_", extra="ignore", frozen=True)

    bootstrap_servers: str | None = Field(
        default=None, description="Kafka bootstrap servers; unset = start the local broker."
    )
    registry_url: str | None = Field(
        default=None,
        description="Confluent-compatible schema registry URL; unset = start local Apicurio.",
    )
    database_url: str | None = Field(
        default=None, description="PostgreSQL URL; unset = start the local PostgreSQL."
    )
    topic_prefix: str = Field(default="agentledger.", description="Prefix of every topic name.")
    partitions: int = Field(
        default=6, ge=1, le=1024, description="Partition count of every keyed topic."
    )

    ledger_name: str = Field(
        default="Ledger", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,40}$",
        description="Name of the ledger: its events table and its relay's identity.",
    )  # fmt: skip
    max_record_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest record a consumer accepts (bytes)."
    )

    state_dir: Path = Field(
        default=REPO_ROOT / ".stack", description="Where the local stack keeps data and logs."
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "agentledger",
        description="Download cache shared by every clone on this machine.",
    )
    kafka_port: Port = Field(default=19092, description="Local broker's client port.")
    kafka_controller_port: Port = Field(default=19093, description="Local KRaft controller port.")
    registry_port: Port = Field(default=18081, description="Local Apicurio Registry HTTP port.")
    postgres_port: Port = Field(default=15432, description="Local PostgreSQL port.")
    kafka_version: str = Field(default="4.1.1", description="Kafka version from Maven Central.")
    apicurio_version: str = Field(
        default="3.0.9", description="Apicurio Registry version from Maven Central."
    )
    kafka_heap: str = Field(default="512m", description="Max JVM heap of the local broker.")
    registry_heap: str = Field(default="384m", description="Max JVM heap of the local registry.")
    start_timeout_s: float = Field(
        default=90.0, gt=0, description="How long to wait for each component to be healthy."
    )
    policy_bundle: Path = Field(
        default=REPO_ROOT / "policies", description="The active Rego bundle the decider loads."
    )
    shadow_bundle: Path | None = Field(
        default=None, description="A candidate bundle evaluated in shadow (never enforced)."
    )
    policy_reload_s: float = Field(
        default=5.0, gt=0, description="How often the decider checks the bundle for changes."
    )
    policy_history_limit: int = Field(
        default=0, ge=0, description="Newest decisions per agent and resource listed in an input."
    )
    decider_batch_size: int = Field(
        default=500, ge=1, description="Proposals the decider applies per transaction."
    )

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented pattern
    @property
    def kafka_external(self) -> bool:
        """True when the user pointed agentledger at a Kafka it does not run."""
        return self.bootstrap_servers is not None

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented pattern
    @property
    def registry_external(self) -> bool:
        """True when the user pointed agentledger at a registry it does not run."""
        return self.registry_url is not None

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented pattern
    @property
    def database_external(self) -> bool:
        """True when the user pointed agentledger at a PostgreSQL it does not run."""
        return self.database_url is not None

    @property
    def kafka_bootstrap(self) -> str:
        """The bootstrap servers in effect, external or local."""
        return self.bootstrap_servers or f"127.0.0.1:{self.kafka_port}"

    @property
    def registry(self) -> str:
        """The registry URL in effect (Confluent-compatible API), external or local."""
        return self.registry_url or f"http://127.0.0.1:{self.registry_port}/apis/ccompat/v7"

    @property
    def database(self) -> str:
        """The PostgreSQL URL in effect, external or local."""
        return (
            self.database_url
            or f"postgresql://agentledger:agentledger@127.0.0.1:{self.postgres_port}/agentledger"
        )

    def topic(self, name: str) -> str:
        """The full name of a topic, e.g. ``topic("actions.v1")``."""
        return f"{self.topic_prefix}{name}"
