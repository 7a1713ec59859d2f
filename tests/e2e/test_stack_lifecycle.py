"""A second stack, from nothing, driven through the CLI: up, no-op up, status, partial failure, down."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_ports, run_cli

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Settings for a second, independent stack: its own empty state dir and free ports."""
    kafka, controller, registry, postgres, crm = free_ports(5)
    env = {
        "AGENTLEDGER_STATE_DIR": str(tmp_path_factory.mktemp("fresh") / "state"),
        "AGENTLEDGER_KAFKA_PORT": str(kafka),
        "AGENTLEDGER_KAFKA_CONTROLLER_PORT": str(controller),
        "AGENTLEDGER_REGISTRY_PORT": str(registry),
        "AGENTLEDGER_POSTGRES_PORT": str(postgres),
        "AGENTLEDGER_CRM_PORT": str(crm),
        "AGENTLEDGER_PARTITIONS": "2",
        "AGENTLEDGER_KAFKA_HEAP": "256m",
        "AGENTLEDGER_REGISTRY_HEAP": "256m",
    }
    for name in ("BOOTSTRAP_SERVERS", "REGISTRY_URL", "DATABASE_URL", "CRM_URL"):
        os.environ.pop(f"AGENTLEDGER_{name}", None)
    yield env
    run_cli("down", env=env)


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
