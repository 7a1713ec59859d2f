"""`agentledger run`: every service (or some) as a child of supervisord.

supervisord (the `supervisor` package) restarts a child that dies: at once if it had run
for ``STARTSECS``, else after 1, 2, 3… s, and after ``STARTRETRIES`` quick failures in a
row it gives up on that child and says so (state FATAL). It logs every exit and start;
each child's lines name their service. SIGTERM to supervisord stops every child (SIGTERM,
then SIGKILL after ``STOPWAITSECS``) and then itself.
"""

from __future__ import annotations

import configparser
import io
import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from agentledger.settings import Settings

SERVICES = (
    "relay", "decider", "executor", "expirer", "observer", "projector", "reconciler", "api",
)  # fmt: skip
"""Every service, in start order; each is the `agentledger` command of the same name."""
ENDPOINT = "endpoint"
"""The child that serves the run's one /metrics, /healthz and /readyz."""
STARTSECS = 10
STARTRETRIES = 20
STOPWAITSECS = 40


class UnknownService(ValueError):
    """A service name `agentledger run` does not know."""


def chosen(names: Sequence[str]) -> list[str]:
    """The services to run, in start order: ``names``, or all of them when none is given."""
    unknown = sorted(set(names) - set(SERVICES))
    if unknown:
        raise UnknownService(f"unknown service(s) {', '.join(unknown)}; choose from"
                             f" {', '.join(SERVICES)}")  # fmt: skip
    return [name for name in SERVICES if name in names] if names else list(SERVICES)


def run_dir(settings: Settings) -> Path:
    """Where the run keeps its configuration, socket, pid file and metrics files."""
    return settings.run_dir or settings.state_dir / "run"


def supervisor_config(
    services: Sequence[str], where: Path, cli: Path, log_format: str = "json"
) -> str:
    """Supervisord's configuration: one program per service, and the endpoint.

    Children log in ``log_format`` (their output is a pipe: they cannot tell themselves).
    """
    config = configparser.ConfigParser(interpolation=None)
    config.optionxform = str  # type: ignore[assignment,method-assign]  # keys as written
    config["supervisord"] = {
        "nodaemon": "true", "logfile": "/dev/null", "logfile_maxbytes": "0",
        "pidfile": _quoted(where / "supervisord.pid"), "loglevel": "info",
        **({"user": "root"} if os.geteuid() == 0 else {}),
    }  # fmt: skip
    config["unix_http_server"] = {"file": _quoted(where / "supervisor.sock"), "chmod": "0700"}
    config["rpcinterface:supervisor"] = {
        "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
    }
    config["supervisorctl"] = {"serverurl": f"unix://{_quoted(where / 'supervisor.sock')}"}
    metrics = _quoted(where / "metrics")
    program = shlex.quote(str(cli))
    children = {name: f"{program} {name}" for name in services}
    children[ENDPOINT] = f"{program} run-endpoint " + " ".join(services)
    environment = (
        f'PROMETHEUS_MULTIPROC_DIR="{metrics}",AGENTLEDGER_METRICS_PORT="0",'
        f'AGENTLEDGER_LOG_FORMAT="{log_format}"'
    )
    for name, command in children.items():
        config[f"program:{name}"] = {
            "command": command,
            "autorestart": "true",
            "startsecs": str(STARTSECS),
            "startretries": str(STARTRETRIES),
            "stopsignal": "TERM",
            "stopwaitsecs": str(STOPWAITSECS),
            "stopasgroup": "true",
            "killasgroup": "true",
            "redirect_stderr": "true",
            "stdout_logfile": "/dev/stdout",
            "stdout_logfile_maxbytes": "0",
            "environment": environment,
        }
    text = io.StringIO()
    config.write(text)
    return text.getvalue()


def _quoted(path: Path) -> str:
    """``path`` for supervisord, which expands ``%(name)s`` in values: ``%`` doubled."""
    if any(char in str(path) for char in '",\n'):
        raise ValueError(f"supervisord cannot take the path {path!r}; choose another run_dir")
    return str(path).replace("%", "%%")


def prepare(settings: Settings, services: Sequence[str]) -> Path:
    """Write the configuration for ``services`` with fresh metrics; its path.

    Refuses while another run with the same directory is alive (its pid file).
    """
    where = run_dir(settings)
    pidfile = where / "supervisord.pid"
    if pidfile.exists():
        pid = int(pidfile.read_text().strip() or 0)
        if pid and _alive(pid):
            raise RuntimeError(f"`agentledger run` is already running here (pid {pid}, {where});"
                               " stop it first or set AGENTLEDGER_RUN_DIR")  # fmt: skip
    where.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.rmtree(where / "metrics", ignore_errors=True)
    (where / "metrics").mkdir(mode=0o700)
    conf = where / "supervisord.conf"
    chosen_format = settings.log_format
    if chosen_format == "auto":
        chosen_format = "text" if sys.stdout.isatty() else "json"
    cli = Path(sys.executable).parent / "agentledger"
    conf.write_text(supervisor_config(services, where, cli, chosen_format))
    conf.chmod(0o600)
    return conf


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def supervisord() -> Path:
    """The supervisord of this environment."""
    return Path(sys.executable).parent / "supervisord"
