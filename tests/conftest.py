"""Shared test helpers: unique ids, and the CLI run as a real subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentledger.bootstrap import connectors, deploy, ledger
from agentledger.settings import Settings
from infra.connectors.registry import Connectors
from infra.ledger.ledger import Ledger

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


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The settings in effect, with the stack up and healthy (a no-op when `make test` did it)."""
    settings = Settings()
    deploy(settings, report=print)
    return settings


@pytest.fixture
def isolated(settings: Settings) -> Iterator[Settings]:
    """Settings naming a ledger table and topics of this test's own; dropped afterwards."""
    from tests.relay_helpers import drop_isolated, isolated_settings  # noqa: PLC0415

    mine = isolated_settings(settings)
    yield mine
    drop_isolated(mine)


@pytest.fixture
def own_ledger(isolated: Settings) -> Iterator[Ledger]:
    """The isolated ledger (one instance per test: instances share a connection pool)."""
    the_ledger = ledger(isolated)
    yield the_ledger
    the_ledger.close()


@pytest.fixture
def systems(settings: Settings) -> Iterator[Connectors]:
    """Connectors to the real systems of record (the billing database and the CRM simulator)."""
    found = connectors(settings)
    yield found
    found.close()
