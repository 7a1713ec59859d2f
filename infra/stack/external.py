"""Components the user runs: the stack never starts or stops them, it only checks them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from infra.stack.component import ComponentStatus
from infra.stack.errors import StackError


@dataclass(frozen=True)
class External:
    """A component at a user-given address, checked by ``probe`` (``None`` = healthy)."""

    name: str
    address: str
    probe: Callable[[], str | None]
    version: Callable[[], str] = lambda: "external"

    def ports(self) -> dict[str, int]:
        """Nothing local to bind."""
        return {}

    def pid(self) -> int | None:
        """Not ours: no pid."""
        return None

    def launch(self) -> bool:
        """Never starts anything."""
        return False

    def await_healthy(self) -> None:
        """One quick check: an external component is up or it is a configuration error."""
        problem = self.probe()
        if problem is not None:
            message = f"the external address {self.address} is not usable: {problem}"
            raise StackError(self.name, f"{message}; check the AGENTLEDGER_ setting")

    def status(self) -> ComponentStatus:
        """Health from one probe; no pid or log (not ours)."""
        problem = self.probe()
        version = self.version() if problem is None else "?"
        return ComponentStatus(
            self.name, self.address, None, problem is None, version, None,
            external=True, problem=problem,
        )  # fmt: skip

    def stop(self) -> bool:
        """Never stops anything."""
        return False
