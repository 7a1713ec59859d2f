"""All configuration of agentledger, read from the environment (prefix ``AGENTLEDGER_``).

Only the composition root (:mod:`agentledger.bootstrap`) builds a :class:`Settings`.
An address left unset means "use the local stack": the project starts that component
itself. An address that is set means the component is external and is never started.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from psycopg.conninfo import make_conninfo
from pydantic import BaseModel, ConfigDict, Field, SecretStr, computed_field
from pydantic_settings import BaseSettings, SettingsConfigDict

Port = Annotated[int, Field(ge=1, le=65535)]


class ApproverEntry(BaseModel):
    """One approver of the ``approvers`` setting."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    roles: list[str] = Field(default_factory=list)


REPO_ROOT = Path(__file__).resolve().parent.parent
SYSTEMS_DATABASE = "agentledger_systems"


def with_database(url: str, name: str) -> str:
    """``url`` (a ``postgresql://`` URL or a ``key=value`` string) naming database ``name``."""
    if "://" in url:
        return urlsplit(url)._replace(path=f"/{name}").geturl()
    return make_conninfo(url, dbname=name)


class Settings(BaseSettings):
    """Every setting, with its default; docs/settings.md documents each one."""

    model_config = SettingsConfigDict(env_prefix="AGENTLEDGER_", extra="ignore", frozen=True)

    bootstrap_servers: str | None = Field(
        default=None, description="Kafka bootstrap servers; unset = start the local broker."
    )
    kafka_username: str | None = Field(
        default=None,
        description="Kafka (SASL/SCRAM-SHA-512) user of this process; unset = the local stack's"
        " user of the service it runs, from the deployment's secrets.",
    )
    kafka_password: SecretStr | None = Field(
        default=None, description="Password of `kafka_username`; required when it is set."
    )
    kafka_credential_file: Path | None = Field(
        default=None,
        description="JSON file with this process's Kafka `username` and `password` (as"
        " `agentledger agent register --credential-file` writes it); wins over the two above.",
    )
    kafka_security_protocol: Literal["SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="SASL_PLAINTEXT",
        description="`SASL_SSL` for a cluster reached over TLS; the local stack is loopback only.",
    )
    registry_url: str | None = Field(
        default=None,
        description="Confluent-compatible schema registry URL; unset = start local Apicurio.",
    )
    registry_username: str = Field(
        default="operator", min_length=1, description="Who changes schemas in the registry."
    )
    registry_password: SecretStr | None = Field(
        default=None,
        description="Password to change schemas in the registry; unset = the local stack's,"
        " generated at `up`. Reading needs none.",
    )
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL (its role creates the ledger's tables and every service"
        " uses it); unset = start the local PostgreSQL, one generated role per service.",
    )
    systems_database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of the `billing` system of record; unset = database "
        "`agentledger_systems` on the server of `database` (local: as role `billing_client`;"
        " external: the same role as `database_url`).",
    )
    crm_url: str | None = Field(
        default=None, description="Base URL of the `crm` system; unset = start the simulator."
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
    checkpoint_dir: Path | None = Field(
        default=None,
        description="Where the relay exports its signed checkpoints (one file each, under the"
        " ledger's name); unset = `<state dir>/checkpoints`. Keep it where no database role"
        " can write: `audit verify` checks the store against the latest.",
    )
    checkpoint_interval_s: float = Field(
        default=10.0,
        ge=0,
        description="How often, at most, the relay signs a checkpoint while"
        " it relays (0 = after every batch).",
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "agentledger",
        description="Download cache shared by every clone on this machine.",
    )
    kafka_port: Port = Field(default=19092, description="Local broker's client port.")
    kafka_controller_port: Port = Field(default=19093, description="Local KRaft controller port.")
    registry_port: Port = Field(
        default=18081, description="Local registry's port (the gate in front of Apicurio)."
    )
    registry_backend_port: Port = Field(
        default=18082, description="Local Apicurio's own port (loopback, behind the gate)."
    )
    postgres_port: Port = Field(default=15432, description="Local PostgreSQL port.")
    crm_port: Port = Field(default=18090, description="Local CRM simulator's HTTP port.")
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
    approvers: dict[str, ApproverEntry] = Field(
        default_factory=dict,
        description="Approvers by bearer token, as JSON: {token: {name, roles}}; empty = none.",
    )
    agent_tokens: dict[str, str] = Field(
        default_factory=dict,
        description="Agents allowed to POST /proposals, as JSON: {token: agent_id}.",
    )
    api_host: str = Field(default="127.0.0.1", description="Address the HTTP API binds.")
    api_port: Port = Field(default=18000, description="Port of the HTTP API.")
    log_format: Literal["auto", "text", "json"] = Field(
        default="auto",
        description="Services' log lines: `text`, `json` (one object per line), or `auto`:"
        " text on a terminal, JSON otherwise.",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address a service's (or `agentledger run`'s) /metrics, /healthz and /readyz"
        " bind.",
    )
    metrics_port: int = Field(
        default=0, ge=0, le=65535,
        description="Port of /metrics, /healthz and /readyz of a service run on its own;"
        " 0 = none (under `agentledger run` the children share `run_metrics_port`).",
    )  # fmt: skip
    run_metrics_port: Port = Field(
        default=19100, description="Port of the one endpoint of `agentledger run`."
    )
    ready_max_lag: int = Field(
        default=10_000, ge=0,
        description="A service whose consumer is more records than this behind on a partition"
        " answers /readyz with 503 (`behind`).",
    )  # fmt: skip
    run_dir: Path | None = Field(
        default=None,
        description="Where `agentledger run` keeps its supervisor's configuration, socket and"
        " metrics files; unset = `<state_dir>/run`.",
    )
    api_failed_logins: str = Field(
        default="20/minute",
        pattern=r"^[1-9][0-9]*/(second|minute|hour|day)$",
        description="Failed authentications one client address may make before the API answers"
        " 429 until the window clears (`N/second`, `N/minute`, `N/hour`).",
    )
    api_url: str | None = Field(
        default=None,
        description="Base URL of the HTTP API an agent (the SDK) asks for its decisions;"
        " unset = `http://<api_host>:<api_port>`.",
    )
    agent_token: SecretStr | None = Field(
        default=None,
        description="The SDK's bearer token for the HTTP API; unset = the one"
        " `agentledger agent register` made for the agent on the local stack.",
    )
    agent_key_file: Path | None = Field(
        default=None,
        description="PEM file with the agent's Ed25519 private key, which the SDK signs its"
        " proposals with; unset = the key `agentledger agent register` made on the local stack.",
    )
    signing_key_file: Path | None = Field(
        default=None,
        description="PEM file with this service's Ed25519 private key (the API's attestations,"
        " the executor's compensations, the relay's, observer's and reconciler's records);"
        " unset = the local stack's, from the deployment secrets.",
    )
    ledger_seal_key_file: Path | None = Field(
        default=None,
        description="File with the key (base64, at least 32 bytes) every service that reads or"
        " writes the event store seals and checks its events with; the database never holds"
        " it. Unset = the local stack's, from the deployment secrets.",
    )
    service_public_keys: dict[str, str] = Field(
        default_factory=dict,
        description="The services' public keys, as JSON: {service: raw public key in base64}"
        " for `api`, `executor` (what the decider trusts), `relay`, `observer` and `reconciler`"
        " (whose records every reader checks); a service left out = the local stack's key."
        " `agentledger agent key services` prints them.",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="OpenID Connect issuer URL whose signed tokens (JWTs) name approvers;"
        " its keys are discovered at `<issuer>/.well-known/openid-configuration`.",
    )
    oidc_audience: str = Field(
        default="agentledger", min_length=1, description="The audience a token must name."
    )
    oidc_roles_claim: str = Field(
        default="roles", min_length=1, description="The claim holding an approver's roles."
    )
    approver_token: SecretStr | None = Field(
        default=None,
        description="The approver's bearer token the CLI's `approvals`, `approve`, `reject` and"
        " `revoke` send to the HTTP API (the API decides whose it is).",
    )
    approver_token_file: Path | None = Field(
        default=None,
        description="A file whose first line is that token; used when the token is unset.",
    )
    expiry_poll_s: float = Field(
        default=1.0, gt=0, description="How often the expirer looks for due approvals."
    )
    instance_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._-]{1,100}$",
        description="This process's stable name in its consumer groups (static membership):"
        " a restart under it takes its partitions back at once. Unique per running process.",
    )
    executor_name: str = Field(
        default="executor-1", description="Name the executor records on ExecutionStarted."
    )
    executor_max_attempts: int = Field(
        default=5, ge=1, description="Attempts before a retryable failure becomes final."
    )
    executor_workers: int = Field(
        default=4, ge=1, le=64, description="Resources the executor works on in parallel."
    )
    executor_backoff_s: float = Field(
        default=1.0, gt=0, description="First retry delay; doubles per attempt, at most 60 s."
    )
    observer_poll_s: float = Field(
        default=0.5, gt=0, description="How often the observer polls an idle change feed."
    )
    observer_heartbeat_s: float = Field(
        default=2.0, gt=0, description="How often, at least, the observer proves it read each feed."
    )
    reconciler_settle_s: float = Field(
        default=5.0,
        ge=0,
        description="How long belief and reality may disagree before it is drift.",
    )
    reconciler_stale_after_s: float = Field(
        default=30.0, gt=0, description="A feed not read this long raises observer_stale."
    )
    reconciler_tick_s: float = Field(
        default=1.0, gt=0, description="How often the reconciler checks settle windows."
    )
    reconciler_commit_s: float = Field(
        default=0.5,
        gt=0,
        description="How often the reconciler commits its transaction (alerts become visible).",
    )
    failpoints: str = Field(
        default="",
        description="Testing only: comma-separated crash points (e.g. executor.after_apply).",
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
        """The PostgreSQL URL in effect: external as given, local with no role (credentials)."""
        return self.database_url or f"postgresql://127.0.0.1:{self.postgres_port}/agentledger"

    @property
    def systems_database(self) -> str:
        """The PostgreSQL URL of the ``billing`` system of record in effect."""
        return self.systems_database_url or with_database(self.database, SYSTEMS_DATABASE)

    @property
    def api(self) -> str:
        """The HTTP API's base URL in effect."""
        return self.api_url or f"http://{self.api_host}:{self.api_port}"

    @property
    def crm(self) -> str:
        """The base URL of the ``crm`` system in effect, external or the local simulator."""
        return self.crm_url or f"http://127.0.0.1:{self.crm_port}"

    def checkpoints(self) -> Path:
        """The export directory of this ledger's checkpoints."""
        return (self.checkpoint_dir or self.state_dir / "checkpoints") / self.ledger_name

    def topic(self, name: str) -> str:
        """The full name of a topic, e.g. ``topic("actions.v1")``."""
        return f"{self.topic_prefix}{name}"
