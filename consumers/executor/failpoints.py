"""Crash points for the chaos tests: the executor SIGKILLs itself at the ones armed."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable

log = logging.getLogger("agentledger.executor")


def failpoint(armed: str) -> Callable[[str], None]:
    """A hook that kills this process at each point ``armed`` names (comma-separated)."""
    names = {name.strip() for name in armed.split(",") if name.strip()}

    def hit(name: str) -> None:
        if name in names:
            log.critical("failpoint %s: kill -9 now (testing only)", name)
            os.kill(os.getpid(), signal.SIGKILL)

    return hit
