"""Where the systems of record are: derived from the other settings unless given."""

from __future__ import annotations

import pytest

from agentledger.bootstrap import stack_config
from agentledger.settings import Settings

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _no_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test from the defaults, whatever the environment says."""
    for name in ("DATABASE_URL", "SYSTEMS_DATABASE_URL", "CRM_URL", "POSTGRES_PORT", "CRM_PORT"):
        monkeypatch.delenv(f"AGENTLEDGER_{name}", raising=False)


def test_systems_database_defaults_to_its_own_database_on_the_local_server() -> None:
    """Unset, the billing system lives in `agentledger_systems` beside the app's database, which the stack creates."""
    settings = Settings(postgres_port=25432)
    expected = "postgresql://127.0.0.1:25432/agentledger_systems"
    assert settings.systems_database == expected
    assert stack_config(settings).systems_database_local


def test_systems_database_follows_an_external_database_server() -> None:
    """With an external database URL, the systems database is on that server and never provisioned."""
    settings = Settings(database_url="postgresql://app:pw@db.example:5432/ledger?sslmode=require")
    assert settings.systems_database == (
        "postgresql://app:pw@db.example:5432/agentledger_systems?sslmode=require"
    )
    assert not stack_config(settings).systems_database_local


def test_a_given_systems_database_url_is_used_as_is() -> None:
    """An explicit systems database URL wins and is not created by the local stack."""
    settings = Settings(systems_database_url="host=other dbname=billing")
    assert settings.systems_database == "host=other dbname=billing"
    assert not stack_config(settings).systems_database_local


def test_crm_is_the_local_simulator_unless_a_url_is_given() -> None:
    """Unset, the CRM is the simulator on crm_port; set, it is external and never started."""
    local = stack_config(Settings(crm_port=28090))
    assert (local.crm_local, local.crm_url) == (True, "http://127.0.0.1:28090")
    external = stack_config(Settings(crm_url="https://crm.example"))
    assert (external.crm_local, external.crm_url) == (False, "https://crm.example")
