"""The local stack as a whole: bring it up in order, report on it, take it down."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infra.stack.component import Component, ComponentStatus
from infra.stack.config import StackConfig
from infra.stack.downloads import Report
from infra.stack.errors import StackError
from infra.stack.external import External
from infra.stack.kafka import LocalKafka, admin
from infra.stack.kafka import probe as kafka_probe
from infra.stack.ports import port_free
from infra.stack.postgres import LocalPostgres, login
from infra.stack.principals import ensure_services
from infra.stack.registry import LocalRegistry, registry_version
from infra.stack.registry import probe as registry_probe
from infra.stack.registry_gate import LocalRegistryGate
from infra.stack.saas import LocalCrm, crm_version
from infra.stack.saas import probe as crm_probe
from infra.stack.secrets import Secrets
from infra.stack.topics import ensure_topics


@dataclass(frozen=True)
class UpResult:
    """What `up` did: the components it started and the topics it created."""

    started: list[str]
    topics_created: list[str]


class Stack:
    """PostgreSQL, Kafka, the registry and the CRM, each local (ours) or external (the user's)."""

    def __init__(self, config: StackConfig, report: Report) -> None:
        """Choose, per component, the local implementation or an external check."""
        self._config = config
        self._report = report
        db, kafka, registry = config.database_url, config.kafka, config.registry_url
        secrets = Secrets(config.secrets_file)
        self.postgres: Component = (
            LocalPostgres(config)
            if config.database_local
            else External("postgres", _redact(db), lambda: login(db)[0], lambda: login(db)[1])
        )
        self.kafka: Component = (
            LocalKafka(config, report, secrets)
            if config.kafka_local
            else External("kafka", kafka.bootstrap, lambda: kafka_probe(kafka))
        )
        self.registry: Component = (
            LocalRegistry(config, report)
            if config.registry_local
            else External(
                "registry",
                registry,
                lambda: registry_probe(registry),
                lambda: registry_version(registry),
            )
        )
        self.gate: Component | None = (
            LocalRegistryGate(config, secrets) if config.registry_local else None
        )
        crm = config.crm_url
        self.crm: Component = (
            LocalCrm(config)
            if config.crm_local
            else External("crm", crm, lambda: crm_probe(crm), lambda: crm_version(crm))
        )

    @property
    def components(self) -> Sequence[Component]:
        """In start order: the registry stores its schemas in PostgreSQL; the gate fronts it."""
        gate = () if self.gate is None else (self.gate,)
        return (self.postgres, self.kafka, self.registry, *gate, self.crm)

    def up(self) -> UpResult:
        """Start what is not running, wait for all, create missing topics and principals."""
        self._preflight()
        started = []
        if self.postgres.launch():
            started.append(self.postgres.name)
        self.postgres.await_healthy()
        later = self.components[1:]
        for component in later:
            if component.launch():
                started.append(component.name)
                self._report(f"{component.name}: starting")
        for component in later:
            component.await_healthy()
        prefix, partitions = self._config.topic_prefix, self._config.partitions
        client = admin(self._config.kafka)
        created = ensure_topics(client, prefix, partitions)
        ensure_services(client, Secrets(self._config.secrets_file), prefix)
        return UpResult(started, created)

    def down(self) -> list[str]:
        """Stop, in reverse order, the components this project started; names of those stopped."""
        return [c.name for c in reversed(self.components) if c.stop()]

    def status(self) -> list[ComponentStatus]:
        """One quick probe of each component."""
        return [component.status() for component in self.components]

    def _preflight(self) -> None:
        """Refuse to start anything if a port a stopped component needs is taken."""
        for component in self.components:
            if component.pid() is not None:
                continue
            for setting, port in component.ports().items():
                if not port_free(port):
                    problem = f"port {port} on 127.0.0.1 is already in use by another process"
                    hint = f"stop it or set AGENTLEDGER_{setting.upper()} to a free port"
                    raise StackError(component.name, f"{problem}; {hint}")


def _redact(url: str) -> str:
    """A database URL without its password, for display."""
    head, sep, tail = url.rpartition("@")
    if not sep:
        return url
    scheme, _, creds = head.partition("://")
    return f"{scheme}://{creds.split(':')[0]}:***@{tail}"
