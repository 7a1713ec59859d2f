"""Apicurio Registry from Maven Central, serving the Confluent-compatible API.

Schemas are stored in PostgreSQL (schema ``apicurio_registry`` of the application's
database), not in memory: Kafka keeps records forever, so the ids they carry must mean
the same schema after any restart.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import httpx
import psycopg
from psycopg.conninfo import conninfo_to_dict

from infra.stack.component import ComponentStatus
from infra.stack.config import StackConfig
from infra.stack.downloads import Report, apicurio_home
from infra.stack.errors import StackError
from infra.stack.java import java
from infra.stack.process import OwnedProcess
from infra.stack.wait import wait_healthy

NAME = "registry"
DB_SCHEMA = "apicurio_registry"


class LocalRegistry:
    """The project's own Apicurio Registry process."""

    name = NAME

    def __init__(self, config: StackConfig, report: Report) -> None:
        """Place the registry's working dir under ``config.state_dir / "registry"``."""
        self._config = config
        self._report = report
        self._home = config.state_dir / "registry"
        self._log = config.logs / "registry.log"
        self._process = OwnedProcess(
            self._home / "registry.pid", f"-Dagentledger.home={self._home}"
        )

    @property
    def _backend(self) -> str:
        """Apicurio's own Confluent-compatible API (loopback, behind the gate)."""
        return f"http://127.0.0.1:{self._config.registry_backend_port}/apis/ccompat/v7"

    def ports(self) -> dict[str, int]:
        """Its own HTTP port, behind the gate (:mod:`infra.stack.registry_gate`)."""
        return {"registry_backend_port": self._config.registry_backend_port}

    def pid(self) -> int | None:
        """The server's pid if it runs (and is ours)."""
        return self._process.pid()

    def launch(self) -> bool:
        """Download if needed and start; needs the database to be up already."""
        if self._process.pid() is not None:
            return False
        home = apicurio_home(self._config.cache_dir, self._config.apicurio_version, self._report)
        runners = sorted(home.glob("*-runner.jar")) or sorted(home.glob("**/quarkus-run.jar"))
        if not runners:
            raise StackError(NAME, f"no runnable jar in {home}; delete it to download again")
        self._home.mkdir(parents=True, exist_ok=True)
        db = conninfo_to_dict(self._config.registry_database_url)
        if not self._config.database_local:  # the local stack's deployment made it
            self._create_schema()
        jdbc = f"jdbc:postgresql://{db.get('host')}:{db.get('port', 5432)}/{db.get('dbname')}"
        argv = [
            java(NAME), f"-Xmx{self._config.registry_heap}", "-XX:+UseSerialGC",
            f"-Dagentledger.home={self._home}",
            "-Dquarkus.http.host=127.0.0.1",
            f"-Dquarkus.http.port={self._config.registry_backend_port}",
            "-Dapicurio.storage.kind=sql", "-Dapicurio.storage.sql.kind=postgresql",
            f"-Dapicurio.datasource.url={jdbc}?currentSchema={DB_SCHEMA}",
            f"-Dapicurio.datasource.username={db.get('user')}",
            "-jar", str(runners[0]),
        ]  # fmt: skip
        env = dict(os.environ, APICURIO_DATASOURCE_PASSWORD=str(db.get("password", "")))
        self._process.launch(argv, self._log, env, self._home)
        return True

    def await_healthy(self) -> None:
        """Wait until the Confluent-compatible API answers."""
        wait_healthy(
            NAME, lambda: probe(self._backend),
            timeout_s=self._config.start_timeout_s, log=self._log,
            alive=lambda: self._process.pid() is not None,
        )  # fmt: skip

    def status(self) -> ComponentStatus:
        """Pid, health (the ccompat API answers) and the version the registry reports."""
        problem = probe(self._backend)
        version = "?" if problem else registry_version(self._backend)
        return ComponentStatus(
            NAME, self._backend, self._process.pid(), problem is None,
            version, self._log, external=False, problem=problem,
        )  # fmt: skip

    def stop(self) -> bool:
        """SIGTERM (Quarkus shuts down cleanly), SIGKILL after 30 s."""
        return self._process.stop()

    def _create_schema(self) -> None:
        try:
            with psycopg.connect(self._config.registry_database_url, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {DB_SCHEMA}")
        except psycopg.Error as exc:
            raise StackError(NAME, f"cannot prepare its storage in PostgreSQL: {exc}") from exc


def probe(url: str) -> str | None:
    """``None`` if ``GET {url}/subjects`` answers 200 within 2 s, else why not."""
    try:
        response = httpx.get(f"{url}/subjects", timeout=2.0)
    except httpx.HTTPError as exc:
        return f"no answer from {url} ({exc.__class__.__name__}: {exc})"
    if response.status_code != httpx.codes.OK:
        return f"{url}/subjects answered HTTP {response.status_code}"
    return None


def registry_version(url: str) -> str:
    """The version an Apicurio registry reports, or ``"?"`` for other registries."""
    parts = urlsplit(url)
    info = f"{parts.scheme}://{parts.netloc}/apis/registry/v3/system/info"
    try:
        return str(httpx.get(info, timeout=2.0).json().get("version", "?"))
    except (httpx.HTTPError, ValueError, AttributeError):
        return "?"
