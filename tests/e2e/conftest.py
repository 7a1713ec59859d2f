"""End-to-end fixtures: a second, independent stack from nothing, driven through the CLI."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import free_ports, run_cli


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Settings for a second, independent stack: its own empty state dir and free ports."""
    kafka, controller, registry, backend, postgres, crm, api = free_ports(7)
    env = {
        "AGENTLEDGER_STATE_DIR": str(tmp_path_factory.mktemp("fresh") / "state"),
        "AGENTLEDGER_KAFKA_PORT": str(kafka),
        "AGENTLEDGER_KAFKA_CONTROLLER_PORT": str(controller),
        "AGENTLEDGER_REGISTRY_PORT": str(registry),
        "AGENTLEDGER_REGISTRY_BACKEND_PORT": str(backend),
        "AGENTLEDGER_POSTGRES_PORT": str(postgres),
        "AGENTLEDGER_CRM_PORT": str(crm),
        "AGENTLEDGER_API_PORT": str(api),
        "AGENTLEDGER_PARTITIONS": "2",
        "AGENTLEDGER_KAFKA_HEAP": "256m",
        "AGENTLEDGER_REGISTRY_HEAP": "256m",
    }
    for name in ("BOOTSTRAP_SERVERS", "REGISTRY_URL", "DATABASE_URL", "CRM_URL"):
        os.environ.pop(f"AGENTLEDGER_{name}", None)
    yield env
    run_cli("down", env=env)
