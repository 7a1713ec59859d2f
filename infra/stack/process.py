"""Start, find and stop a long-running process the project owns, through a pid file.

A pid file alone can outlive its process and its pid be reused, so a process counts as
ours only if its command line still contains a marker (the state directory path).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

EXEC_WAIT_S = 5.0


@dataclass(frozen=True)
class OwnedProcess:
    """A process identified by a pid file and a command-line marker."""

    pidfile: Path
    marker: str

    def pid(self) -> int | None:
        """The pid if the process is alive and is ours, else ``None``."""
        try:
            pid = int(self.pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if is_ours(pid, self.marker) else None

    def launch(self, argv: list[str], log: Path, env: dict[str, str], cwd: Path) -> int:
        """Start ``argv`` detached (own session), output appended to ``log``; record its pid."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            child = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
        self.pidfile.parent.mkdir(parents=True, exist_ok=True)
        self.pidfile.write_text(f"{child.pid}\n")
        # Until the child has exec'd, its command line is still ours (no marker): wait for
        # it, so that pid() finds the process as soon as launch returns.
        deadline = time.monotonic() + EXEC_WAIT_S
        while not is_ours(child.pid, self.marker) and child.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        return child.pid

    def stop(self, timeout_s: float = 30.0) -> bool:
        """SIGTERM, then SIGKILL after ``timeout_s``; True if something was stopped."""
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not wait_exit(pid, timeout_s):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            wait_exit(pid, 10.0)
        self.pidfile.unlink(missing_ok=True)
        return True


def is_ours(pid: int, marker: str) -> bool:
    """True if ``pid`` runs, is not a zombie, and its command line contains ``marker``."""
    proc = Path(f"/proc/{pid}")
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except (OSError, IndexError):
        return False
    return state != "Z" and marker in cmdline


def wait_exit(pid: int, timeout_s: float) -> bool:
    """Wait until ``pid`` is gone (or a zombie); True if it went within the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not is_ours(pid, ""):
            return True
        time.sleep(0.1)
    return False
