"""Apache Kafka in KRaft mode, one node (broker + controller), from Maven Central jars.

Every connection authenticates and is authorized: see ``kafka_auth``.
"""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
import uuid
from pathlib import Path

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient

from infra.kafka_config import KafkaAccess, client_config
from infra.stack.component import ComponentStatus
from infra.stack.config import StackConfig
from infra.stack.downloads import Report, kafka_libs
from infra.stack.errors import StackError
from infra.stack.java import java
from infra.stack.kafka_auth import auth_properties, format_scram_arguments
from infra.stack.process import OwnedProcess
from infra.stack.secrets import Secrets, write_private
from infra.stack.wait import wait_healthy

NAME = "kafka"
FORMATTED = "formatted-with-scram"
"""Marker: the log dir was formatted with the super users' SCRAM credentials."""

LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.console.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
logger.clients.name = org.apache.kafka
logger.clients.level = warn
"""


class LocalKafka:
    """The project's own single-node KRaft broker."""

    name = NAME

    def __init__(self, config: StackConfig, report: Report, secrets: Secrets) -> None:
        """Place the broker's data and config under ``config.state_dir / "kafka"``."""
        self._config = config
        self._report = report
        self._secrets = secrets
        self._home = config.state_dir / "kafka"
        self._properties = self._home / "server.properties"
        self._log = config.logs / "kafka.log"
        self._process = OwnedProcess(self._home / "kafka.pid", str(self._properties))

    def ports(self) -> dict[str, int]:
        """Client and controller ports."""
        config = self._config
        return {
            "kafka_port": config.kafka_port,
            "kafka_controller_port": config.kafka_controller_port,
        }

    def pid(self) -> int | None:
        """The server's pid if it runs (and is ours)."""
        return self._process.pid()

    def launch(self) -> bool:
        """Download the jars if needed, format the log dir once, start the broker."""
        if self._process.pid() is not None:
            return False
        libs = kafka_libs(self._config.cache_dir, self._config.kafka_version, self._report)
        self._home.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(self._properties, self.server_properties())
        (self._home / "log4j2.properties").write_text(LOG4J2)
        classpath = ["-cp", f"{libs}/*"]
        if not (self._home / "data" / "meta.properties").exists():
            self._format(classpath)
        elif not (self._home / FORMATTED).exists():
            problem = (
                f"its log dir {self._home / 'data'} was formatted before Kafka required"
                " authentication and holds no SCRAM users: stop the stack, remove that folder"
                " and run `agentledger up` again (the relay publishes the event store anew)"
            )
            raise StackError(NAME, problem, self._log)
        self._process.launch(
            [*self._jvm(), *classpath, "kafka.Kafka", str(self._properties)],
            self._log, dict(os.environ), self._home,
        )  # fmt: skip
        return True

    def await_healthy(self) -> None:
        """Wait until the broker answers metadata and its transaction coordinator is loaded."""
        wait_healthy(
            NAME, lambda: probe(self._config.kafka),
            timeout_s=self._config.start_timeout_s, log=self._log,
            alive=lambda: self._process.pid() is not None,
        )  # fmt: skip
        transactions_ready(self._config.kafka, self._config.start_timeout_s)

    def status(self) -> ComponentStatus:
        """Pid, health (a metadata request) and the Kafka version the jars carry."""
        problem = probe(self._config.kafka)
        return ComponentStatus(
            NAME, self._config.kafka.bootstrap, self._process.pid(), problem is None,
            self._config.kafka_version, self._log, external=False, problem=problem,
        )  # fmt: skip

    def stop(self) -> bool:
        """SIGTERM (the broker shuts down cleanly), SIGKILL after 60 s."""
        return self._process.stop(timeout_s=60.0)

    def server_properties(self) -> str:
        """The broker's configuration: one node, replication 1 everywhere, no auto-create."""
        port, controller = self._config.kafka_port, self._config.kafka_controller_port
        return "\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers=127.0.0.1:{controller}",
            *auth_properties(self._secrets, port, controller),
            f"log.dirs={self._home / 'data'}",
            f"num.partitions={self._config.partitions}",
            "auto.create.topics.enable=false",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=10",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=10",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "min.insync.replicas=1",
            "",
        ])  # fmt: skip

    def _jvm(self) -> list[str]:
        heap = self._config.kafka_heap
        return [
            java(NAME), f"-Xmx{heap}", f"-Xms{heap}", "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={self._home / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self._home / 'logs'}",
        ]  # fmt: skip

    def _format(self, classpath: list[str]) -> None:
        """Format the log dir with the super users' SCRAM credentials in its metadata.

        The arguments go through a java ``@argfile`` (owner-only, removed afterwards) so
        that no password shows in ``ps``.
        """
        argv = ["kafka.tools.StorageTool", "format", "--standalone"]
        argv += [f"--cluster-id={new_cluster_id()}", "-c", str(self._properties)]
        argv += format_scram_arguments(self._secrets, self._config.kafka.password)
        with tempfile.TemporaryDirectory(dir=self._home) as private:
            argfile = Path(private) / "format.args"
            write_private(argfile, "\n".join(argv) + "\n")
            done = subprocess.run(
                [*self._jvm(), *classpath, f"@{argfile}"],
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
        if done.returncode != 0:
            self._log.parent.mkdir(parents=True, exist_ok=True)
            self._log.write_text(done.stdout + done.stderr)
            raise StackError(
                NAME, f"formatting the log dir failed (exit {done.returncode})", self._log
            )
        (self._home / FORMATTED).touch()


def new_cluster_id() -> str:
    """A random cluster id as Kafka makes them: 22 URL-safe base64 characters, no leading '-'.

    An id starting with '-' reads as an option to the storage tool ("argument --cluster-id:
    expected one argument"); Kafka's own ``Uuid.randomUuid`` redraws those too.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def admin(kafka: KafkaAccess) -> AdminClient:
    """An admin client that stays quiet while the broker is unreachable."""
    return AdminClient(client_config(kafka, {"log_level": 0, "socket.timeout.ms": 2000}))


def transactions_ready(kafka: KafkaAccess, timeout_s: float) -> None:
    """Block until a transactional producer can initialise (the coordinator has loaded).

    Right after a start the broker answers metadata before its transaction state log is
    loaded; producers would then log "coordinator load in progress" and retry.
    """
    producer = Producer(client_config(kafka, {
        "transactional.id": "agentledger-stack-readiness",
        "log_level": 0,
    }))  # fmt: skip
    try:
        producer.init_transactions(timeout_s)
    except KafkaException as exc:
        message = f"transactions unavailable after {timeout_s:.0f}s: {exc}"
        raise StackError(NAME, message) from exc


def probe(kafka: KafkaAccess) -> str | None:
    """``None`` if the broker answers a metadata request within 2 s, else why not."""
    try:
        admin(kafka).list_topics(timeout=2)
    except Exception as exc:  # noqa: BLE001  # any failure means "not healthy"; we report it
        cause = f"{exc.__class__.__name__}: {exc}"
        return f"no metadata from {kafka.bootstrap} as user {kafka.username} ({cause})"
    return None
