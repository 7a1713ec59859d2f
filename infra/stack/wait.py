"""Bounded waiting for a component to become healthy, with an error that says why not."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from infra.stack.errors import StackError, log_tail

Probe = Callable[[], str | None]
"""Returns ``None`` when healthy, else a short description of what is wrong."""


def wait_healthy(  # noqa: PLR0913  # every argument is part of the error message
    component: str,
    probe: Probe,
    *,
    timeout_s: float,
    log: Path | None,
    alive: Callable[[], bool] = lambda: True,
    interval_s: float = 0.25,
) -> None:
    """Poll ``probe`` until it reports healthy; raise :class:`StackError` on timeout or death."""
    deadline = time.monotonic() + timeout_s
    problem = probe()
    while problem is not None:
        if not alive():
            raise StackError(component, f"exited while starting ({problem})\n{log_tail(log)}", log)
        if time.monotonic() >= deadline:
            message = f"not healthy after {timeout_s:.0f}s: {problem}\n{log_tail(log)}"
            raise StackError(component, message, log)
        time.sleep(interval_s)
        problem = probe()
