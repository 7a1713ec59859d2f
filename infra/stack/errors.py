"""The one error the local stack raises: it names the component, what failed, and the log."""

from __future__ import annotations

from pathlib import Path


class StackError(Exception):
    """A component could not be provisioned, started, reached or stopped."""

    def __init__(self, component: str, problem: str, log: Path | None = None) -> None:
        """Describe the failure of ``component``; ``log`` is where to look next."""
        self.component = component
        self.problem = problem
        self.log = log
        where = f" (log: {log})" if log is not None else ""
        super().__init__(f"{component}: {problem}{where}")


def log_tail(log: Path | None, lines: int = 8) -> str:
    """The last lines of a log file, indented, or an empty string if there is none."""
    if log is None or not log.is_file():
        return ""
    with log.open("rb") as handle:
        handle.seek(max(0, log.stat().st_size - 16_384))
        tail = handle.read().decode("utf-8", "replace").splitlines()[-lines:]
    return "\n".join(f"    | {line}" for line in tail)
