"""Shared test helpers: unique ids, and the CLI run as a real subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

CLI = Path(sys.executable).parent / "agentledger"


def unique(prefix: str) -> str:
    """A name no other test (or earlier run) uses, so tests share one broker safely."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `agentledger ARGS` with ``env`` added to the environment; never raises on failure."""
    return subprocess.run(
        [str(CLI), *args],
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that were free a moment ago."""
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.fixture
def test_id() -> str:
    """A unique id for this test's topics, subjects and rows."""
    return unique("t")
