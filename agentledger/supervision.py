"""`agentledger run`: every service (or some) as a child of supervisord.

supervisord (the `supervisor` package) restarts a child that dies: at once if it had run
for ``STARTSECS``, else after 1, 2, 3… s, and after ``STARTRETRIES`` quick failures in a
row it gives up on that child and says so (state FATAL). It logs every exit and start;
each child's lines name their service. SIGTERM to supervisord stops every child (SIGTERM,
then SIGKILL after ``STOPWAITSECS``) and then itself.
"""

from __future__ import annotations

import configparser
import fcntl
import io
import os
import shlex
import shutil
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

from agentledger.settings import Settings

SERVICES = (
    "relay", "decider", "executor", "expirer", "observer", "projector", "reconciler", "api",
)  # fmt: skip
"""Every service; each is the `agentledger` command of the same name."""
ENDPOINT = "endpoint"
"""The child that serves the run's one /metrics, /healthz and /readyz."""
GROUP = "agentledger"
"""One group: supervisord stops a group's programs together, groups one after another."""
STARTSECS = 10
STARTRETRIES = 20
STOPWAITSECS = 40


class UnknownService(ValueError):
    """A service name `agentledger run` does not know."""


def chosen(names: Sequence[str]) -> list[str]:
    """The services to run, in :data:`SERVICES`' order: ``names``, or all when none is given."""
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
    config[f"group:{GROUP}"] = {"programs": ",".join([*services, ENDPOINT])}
    metrics = _quoted(where / "metrics")
    program = shlex.quote(_quoted(cli))
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
    """``path`` for supervisord, which expands ``%(name)s`` in values: ``%`` doubled.

    Quotes, commas and newlines would end a value early, and `` ;`` or `` #`` starts a
    comment in its configuration: paths with them are refused.
    """
    text = str(path)
    if any(char in text for char in '",;#\n'):
        raise ValueError(f"supervisord cannot take the path {text!r}; choose another run_dir")
    return text.replace("%", "%%")


class RunLocked(RuntimeError):
    """Another `agentledger run` holds this run directory, or it is not safe to use."""


def prepare(settings: Settings, services: Sequence[str]) -> tuple[Path, int]:
    """Write the configuration for ``services`` with fresh metrics: its path, and the lock.

    The lock (an open file descriptor, inherited by supervisord through the exec) is
    held for the run's lifetime: a second run on the same directory is refused before
    it touches anything. The directory must be the user's own; it is made private.
    """
    where = run_dir(settings)
    where.mkdir(parents=True, exist_ok=True, mode=0o700)
    _private(where)
    lock = os.open(where / "run.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        raise RunLocked(f"`agentledger run` is already running here ({where}); stop it first"
                        " or set AGENTLEDGER_RUN_DIR") from None  # fmt: skip
    metrics = where / "metrics"
    if metrics.is_symlink():
        metrics.unlink()
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(mode=0o700)
    chosen_format = settings.log_format
    if chosen_format == "auto":
        chosen_format = "text" if sys.stdout.isatty() else "json"
    cli = Path(sys.executable).parent / "agentledger"
    try:
        text = supervisor_config(services, where, cli, chosen_format)
        conf = where / "supervisord.conf"
        written = where / ".supervisord.conf.new"  # ours alone: the lock is held
        written.unlink(missing_ok=True)
        descriptor = os.open(written, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(text)
        written.replace(conf)  # replaces a symlink itself, never what it points at
    except BaseException:
        os.close(lock)
        raise
    return conf, lock


def _private(where: Path) -> None:
    """Refuse a run directory that is a link or another user's; make ours 0700."""
    if where.is_symlink():
        raise RunLocked(f"the run directory {where} is a symbolic link; give a real one")
    status = where.stat()
    if status.st_uid != os.geteuid():
        raise RunLocked(f"the run directory {where} belongs to another user (uid"
                        f" {status.st_uid}); give one of your own")  # fmt: skip
    if stat.S_IMODE(status.st_mode) & 0o077:
        where.chmod(0o700)


def supervisord() -> Path:
    """The supervisord of this environment."""
    return Path(sys.executable).parent / "supervisord"
