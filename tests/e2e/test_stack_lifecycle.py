"""A second stack, from nothing, driven through the CLI: up, no-op up, status, partial failure, down."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.e2e


def _pids(status_output: str) -> dict[str, str]:
    rows = {}
    for line in status_output.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) > 3 and cells[1] in {"postgres", "kafka", "registry", "crm"}:
            rows[cells[1]] = f"{cells[3]} {cells[4]}"
    return rows


def test_stack_comes_up_from_nothing_and_reports_healthy(fresh_env: dict[str, str]) -> None:
    """On an empty state dir `up` initialises and starts all four components and creates the topics."""
    result = run_cli("up", env=fresh_env)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("postgres", "kafka", "registry", "crm"):
        assert f"started {name}" in result.stdout
    assert "agentledger.actions.v1" in result.stdout
    status = run_cli("status", "--strict", env=fresh_env)
    assert status.returncode == 0, status.stdout
    assert all(cell.endswith("yes") for cell in _pids(status.stdout).values()), status.stdout


def test_second_up_is_a_no_op(fresh_env: dict[str, str]) -> None:
    """`up` on a healthy stack starts nothing and leaves every pid as it was."""
    before = _pids(run_cli("status", env=fresh_env).stdout)
    result = run_cli("up", env=fresh_env)
    assert result.returncode == 0, result.stderr
    assert "stack already up" in result.stdout
    assert _pids(run_cli("status", env=fresh_env).stdout) == before


def test_status_shows_a_stopped_component_as_down(fresh_env: dict[str, str]) -> None:
    """After the registry process dies, status marks it unhealthy without a pid, the others stay up."""
    pidfile = Path(fresh_env["AGENTLEDGER_STATE_DIR"]) / "registry" / "registry.pid"
    os.kill(int(pidfile.read_text()), signal.SIGKILL)
    status = run_cli("status", "--strict", env=fresh_env)
    assert status.returncode == 1
    rows = _pids(status.stdout)
    assert rows["registry"].startswith("- no"), status.stdout
    assert rows["kafka"].endswith("yes")
    assert rows["postgres"].endswith("yes")
    result = run_cli("up", env=fresh_env)  # and `up` repairs exactly that component
    assert result.returncode == 0, result.stderr
    assert "started registry" in result.stdout
    assert "started kafka" not in result.stdout


def test_down_stops_only_this_stack(fresh_env: dict[str, str]) -> None:
    """`down` stops the four processes of this stack and leaves the main test stack running."""
    result = run_cli("down", env=fresh_env)
    assert result.returncode == 0, result.stderr
    assert "registry" in result.stdout
    assert "kafka" in result.stdout
    assert "postgres" in result.stdout
    assert "crm" in result.stdout
    status = run_cli("status", env=fresh_env)
    assert all(row.startswith("- no") for row in _pids(status.stdout).values()), status.stdout
    main = run_cli("status", "--strict")
    assert main.returncode == 0, main.stdout
