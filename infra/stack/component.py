"""What every local-stack component offers, and what `status` shows of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class ComponentStatus:
    """One row of `agentledger status`."""

    name: str
    address: str
    pid: int | None
    healthy: bool
    version: str
    log: Path | None
    external: bool
    problem: str | None = None


class Component(Protocol):
    """A server the stack runs locally (or checks, when it is external)."""

    @property
    def name(self) -> str:
        """Component name as shown by `status` and in errors."""
        ...

    def ports(self) -> dict[str, int]:
        """The local ports it binds, by the name of their setting (empty when external)."""
        ...

    def pid(self) -> int | None:
        """The pid of the process the project runs for it, if that process is alive."""
        ...

    def launch(self) -> bool:
        """Start it if it is not running (no waiting); True if a process was started."""
        ...

    def await_healthy(self) -> None:
        """Block until it serves requests, or raise ``StackError``."""
        ...

    def status(self) -> ComponentStatus:
        """Probe it now (quickly) and report."""
        ...

    def stop(self) -> bool:
        """Stop it if the project started it; True if something was stopped."""
        ...
