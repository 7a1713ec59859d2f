"""`agentledger approvals | approve | reject` as an approver runs them: through the API."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentledger.api.server import ApiServer
from agentledger.services import running
from agentledger.settings import ApproverEntry, Settings
from infra.connectors.registry import Connectors
from infra.ledger.ledger import Ledger
from tests.conftest import run_cli
from tests.execution_helpers import agent, decide, desk, resource

pytestmark = pytest.mark.e2e
TOKEN = secrets.token_urlsafe(16)
"""The one approver the API knows, made for this run."""


@pytest.fixture
def api(isolated: Settings, own_ledger: Ledger, systems: Connectors) -> Iterator[Settings]:
    """The API serving the isolated ledger, with approver ``carol`` (security)."""
    served = isolated.model_copy(
        update={"approvers": {TOKEN: ApproverEntry(name="carol", roles=["security"])}}
    )
    server = ApiServer(served, own_ledger, systems)
    with running([("the API", server.run, server.ready)]):
        yield served


def _env(settings: Settings, **more: str) -> dict[str, str]:
    return {
        "AGENTLEDGER_API_URL": settings.api, "AGENTLEDGER_APPROVERS": "{}",
        "AGENTLEDGER_LEDGER_NAME": settings.ledger_name,  # for a CLI that reads the ledger
        "AGENTLEDGER_TOPIC_PREFIX": settings.topic_prefix,
        **more,
    }  # fmt: skip


def test_an_approver_invented_in_the_callers_environment_cannot_approve(
    api: Settings, own_ledger: Ledger, systems: Connectors
) -> None:
    """A shell user defines an approver with every role for a token of their own: refused."""
    aid = decide(own_ledger, agent(own_ledger), resource("crm", "contact"), roles=["security"])
    mine = secrets.token_urlsafe(8)
    forged = json.dumps({mine: {"name": "mallory", "roles": ["security", "finance"]}})
    env = _env(api, AGENTLEDGER_APPROVERS=forged, AGENTLEDGER_APPROVER_TOKEN=mine,
               AGENTLEDGER_TOKEN=mine)  # the token's older name too  # fmt: skip
    done = run_cli("approve", str(aid), env=env)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "unauthenticated (401)" in done.stderr
    assert desk(own_ledger, systems).request(aid).state == "pending"


def test_the_real_approver_lists_and_approves_with_a_token_file(
    api: Settings, own_ledger: Ledger, systems: Connectors, tmp_path: Path
) -> None:
    """The token from a file: the queue lists the request, approving records carol."""
    aid = decide(own_ledger, agent(own_ledger), resource("crm", "contact"), roles=["security"])
    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}\n")
    env = _env(api, AGENTLEDGER_APPROVER_TOKEN_FILE=str(token_file))
    listed = run_cli("approvals", env=env)
    assert listed.returncode == 0, listed.stderr
    assert str(aid)[:8] in listed.stdout
    done = run_cli("approve", str(aid), "--comment", "looks right", env=env)
    assert done.returncode == 0, done.stderr
    assert "approval request is approved" in done.stdout
    assert desk(own_ledger, systems).request(aid).approved_by == ["carol"]
    again = run_cli("reject", str(aid), "--reason", "too late", env=env)
    assert again.returncode == 4
    assert "(409)" in again.stderr


def test_no_token_is_a_clear_error(api: Settings) -> None:
    """Without a token the CLI says which settings give one, and calls nothing."""
    done = run_cli("approvals", env=_env(api))
    assert done.returncode == 2
    assert "AGENTLEDGER_APPROVER_TOKEN" in done.stderr
