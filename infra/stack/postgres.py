"""PostgreSQL from Debian's package, in the project's state dir, on its own port.

The server refuses to run as root, so when we are root it runs as the ``postgres`` system
user (which the Debian package creates) and owns only its own folder. Socket connections
in that folder (0700, the server's user only) use trust auth for provisioning; TCP
connections use scram passwords, and the superuser has none, so it cannot log in there.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from infra.database_roles import BILLING_CLIENT, BILLING_OWNER, LEDGER_OWNER, secret_name
from infra.stack import database
from infra.stack.component import ComponentStatus
from infra.stack.config import StackConfig
from infra.stack.errors import StackError
from infra.stack.process import OwnedProcess
from infra.stack.secrets import Secrets
from infra.stack.wait import wait_healthy

NAME = "postgres"
SERVER_USER = "postgres"


class LocalPostgres:
    """The project's own PostgreSQL cluster (initdb on first start)."""

    name = NAME

    def __init__(self, config: StackConfig) -> None:
        """Place the cluster under ``config.state_dir / "postgres"``."""
        self._config = config
        self._home = config.state_dir / "postgres"
        self._data = self._home / "data"
        self._run = self._home / "run"
        self._log = config.logs / "postgres.log"
        self._process = OwnedProcess(self._data / "postmaster.pid", str(self._data))

    def ports(self) -> dict[str, int]:
        """The server's TCP port."""
        return {"postgres_port": self._config.postgres_port}

    def pid(self) -> int | None:
        """The server's pid if it runs (and is ours)."""
        return self._process.pid()

    def launch(self) -> bool:
        """Initdb if needed, then ``pg_ctl start`` (which waits for the postmaster)."""
        if self._process.pid() is not None:
            return False
        self._prepare_dirs()
        if not (self._data / "PG_VERSION").exists():
            self._initdb()
        (self._data / "agentledger.conf").write_text(self._server_conf())
        argv = [str(_bin("pg_ctl")), "start", "-D", str(self._data), "-l", str(self._log)]
        self._run_as_server([*argv, "-w", "-t", str(int(self._config.start_timeout_s))])
        return True

    def await_healthy(self) -> None:
        """Create the roles and databases, then wait for a TCP login (as the operator) to work."""
        self._provision()
        wait_healthy(NAME, self._probe, timeout_s=self._config.start_timeout_s, log=self._log)

    def status(self) -> ComponentStatus:
        """Pid, health (a TCP login as the application role) and server version."""
        problem, version = login(self._config.database_url)
        return ComponentStatus(
            NAME, f"127.0.0.1:{self._config.postgres_port}", self._process.pid(),
            problem is None, version, self._log, external=False, problem=problem,
        )  # fmt: skip

    def stop(self) -> bool:
        """``pg_ctl stop -m fast``; falls back to signals if that fails."""
        if self._process.pid() is None:
            return False
        argv = [str(_bin("pg_ctl")), "stop", "-D", str(self._data), "-m", "fast", "-w"]
        try:
            self._run_as_server([*argv, "-t", "60"])
        except StackError:
            self._process.stop()
        return True

    def _probe(self) -> str | None:
        return login(self._config.database_url)[0]

    def _server_conf(self) -> str:
        return (
            f"port = {self._config.postgres_port}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{self._run}'\n"
            "max_connections = 200\n"
            "shared_buffers = 128MB\n"
        )

    def _prepare_dirs(self) -> None:
        self._config.logs.mkdir(parents=True, exist_ok=True)
        self._run.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._log.touch()
        if os.geteuid() == 0:
            owner = pwd.getpwnam(SERVER_USER)
            for path in (self._home, self._run, self._log):
                os.chown(path, owner.pw_uid, owner.pw_gid)
            let_traverse(self._home)

    def _initdb(self) -> None:
        args = ["-D", str(self._data), "-U", "postgres", "-E", "UTF8", "--no-locale"]
        auth = ["--auth-local=trust", "--auth-host=scram-sha-256"]
        self._run_as_server([str(_bin("initdb")), *args, *auth])
        conf = self._data / "postgresql.conf"
        with conf.open("a") as handle:
            handle.write("\ninclude_if_exists = 'agentledger.conf'\n")

    def _provision(self) -> None:
        """Roles, the ledger's and the billing system's databases, billing's tables."""
        secrets = Secrets(self._config.secrets_file)
        ledger_db = str(conninfo_to_dict(self._config.database_url).get("dbname"))
        with self._superuser("postgres") as conn:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'agentledger'").fetchone():
                raise StackError(NAME, (
                    f"{self._data} was made for one shared role with a default password;"
                    f" remove {self._home} (the ledger's history in it is lost) and run up again"
                ))  # fmt: skip
            database.ensure_roles(conn, lambda role: secrets.get(secret_name(role)))
            database.ensure_database(conn, ledger_db, LEDGER_OWNER, database.ledger_logins())
            if self._config.systems_database_local:
                systems = str(conninfo_to_dict(self._config.systems_database_url).get("dbname"))
                database.ensure_database(conn, systems, BILLING_OWNER, (BILLING_CLIENT,))
        with self._superuser(ledger_db) as conn:
            database.prepare_ledger_database(conn)
        if self._config.systems_database_local:
            with self._superuser(systems) as conn:
                database.ensure_billing(conn)

    def _superuser(self, dbname: str) -> psycopg.Connection[Any]:
        """The server's superuser through the private socket (only we can reach it)."""
        return psycopg.connect(
            host=str(self._run), port=self._config.postgres_port, user="postgres",
            dbname=dbname, autocommit=True, options=database.SUPERUSER_OPTIONS,
        )  # fmt: skip

    def _run_as_server(self, argv: list[str]) -> None:
        tool = Path(argv[0]).name
        if os.geteuid() == 0:
            argv = [_require("runuser"), "-u", SERVER_USER, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
        if done.returncode != 0:
            detail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise StackError(NAME, f"{tool} failed (exit {done.returncode}): {detail}", self._log)


def login(url: str) -> tuple[str | None, str]:
    """(problem or None, server version) for a quick login at ``url``."""
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0], "?"
    return None, str(row[0]).split()[0] if row else "?"


def _bin(tool: str) -> Path:
    """A server binary from the newest Debian PostgreSQL installed."""
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{tool}"), key=_major)
    if not candidates:
        raise StackError(NAME, f"{tool} not found under /usr/lib/postgresql; run `make install`")
    return candidates[-1]


def _major(path: Path) -> int:
    return int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0


def _require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise StackError(NAME, f"`{tool}` is needed to run PostgreSQL as a non-root user")
    return found


def let_traverse(path: Path) -> None:
    """Let the server user reach its folder inside a private checkout.

    Ancestors lacking search (x) permission for others get it; nothing becomes readable.
    """
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)
