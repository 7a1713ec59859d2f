"""Bad settings give one clear error line naming the component, never a traceback."""

from __future__ import annotations

import re
import socket

import pytest

from agentledger.credentials import database_url
from agentledger.settings import Settings
from infra.database_roles import OPERATOR
from tests.conftest import free_ports, run_cli

pytestmark = pytest.mark.e2e


def test_port_in_use_is_a_clear_error_and_starts_nothing(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """If another program holds the Kafka port, `up` names Kafka and the port, and starts no component."""
    state = tmp_path_factory.mktemp("busy") / "state"
    controller, registry, postgres = free_ports(3)
    env = {
        "AGENTLEDGER_STATE_DIR": str(state),
        "AGENTLEDGER_KAFKA_CONTROLLER_PORT": str(controller),
        "AGENTLEDGER_REGISTRY_PORT": str(registry),
        "AGENTLEDGER_POSTGRES_PORT": str(postgres),
    }
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = run_cli("up", env={**env, "AGENTLEDGER_KAFKA_PORT": str(port)})
    assert result.returncode == 1
    assert f"kafka: port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "set AGENTLEDGER_KAFKA_PORT to a free port" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (state / "postgres" / "data").exists()  # preflight failed before anything started


def test_unreachable_external_kafka_is_a_clear_error() -> None:
    """An external bootstrap address nobody answers on fails `up` with the address and the setting to check."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound but never listening: connections are refused
        local = Settings()
        env = {
            "AGENTLEDGER_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
            "AGENTLEDGER_REGISTRY_URL": local.registry,
            "AGENTLEDGER_DATABASE_URL": database_url(local, OPERATOR),
        }
        result = run_cli("up", env=env, timeout=120)
    assert result.returncode == 1
    assert f"kafka: the external address 127.0.0.1:{port} is not usable" in result.stderr
    assert "AGENTLEDGER_" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_demo_runs_the_smoke_and_the_governed_scenario_on_the_real_stack() -> None:
    """`agentledger demo` round-trips Avro, has proposals decided, then approved, executed on both systems, expired, revoked and observed."""
    result = run_cli("demo")
    assert result.returncode == 0, result.stdout + result.stderr
    for step in (
        "1. registered schema",
        "2. produced Avro record",
        "3. consumed it back",
        "4. wrote and read PostgreSQL",
    ):
        assert step in result.stdout
    assert "smoke check passed" in result.stdout
    assert "registered demo-agent (scopes crm:*, budget 100), signing with its key ed25519:" in (
        " ".join(result.stdout.split())
    )
    for decided in (
        "first contact with a resource: require_approval (first_contact",
        "same resource again: allow",
        "over its budget: rejected (budget_exceeded)",
        "delete by another name: rejected (unknown_action_type)",
        "outside its scopes: rejected (scope_missing)",
        "a retry of the second proposal: allow",
        "signed with a key it never registered: rejected (unauthenticated)",
    ):
        assert decided in result.stdout, result.stdout
    flat = " ".join(result.stdout.split())
    for control in (
        "the approver approves it: refused (agent_suspended)",
        "it proposes again while suspended: deny (agent_suspended",
        "reinstated; approved again: applied",
        "a proposal under the stop: waits, undecided",
        "resumed: the waiting proposal is allow, and applied",
        "suspended by demo-operator: it retries in a loop",
        "emergency_stop by demo-operator: incident drill",
        "resumed by demo-operator: drill over",
    ):
        assert control in flat, result.stdout
    assert re.search(r"demo-operator suspended demo-ops-bot-\w+ while the change awaits approval",
                     flat), result.stdout  # fmt: skip
    timeline = result.stdout.split("timeline (seconds since start):")[1]
    for event in (
        "first touch of the contact: MutationApplied",
        "first touch of the invoice: MutationApplied",
        "update the contact again: MutationApplied",
        "first touch of a new contact: ApprovalExpired",
        "raise the invoice amount: Revoked by demo-approver",
        "compensation of the raise: MutationApplied",
        "observed crm/contact/demo-",
        "observed billing/invoice/demo-",
    ):
        assert event in " ".join(timeline.split()), timeline
    assert "delete by another name: rejected (unknown_action_type)" in result.stdout
    assert "execution scenario done" in result.stdout
    assert (
        "services: `agentledger run`, every service a supervised child process; metrics at"
        " http://127.0.0.1:" in flat
    )
    applied = re.search(r"actions applied: (\d+)", flat)
    assert applied is not None
    assert int(applied.group(1)) > 0, "the run's own metrics count what its executor applied"
    assert "demo-approver signed in through the local issuer http://127.0.0.1:" in " ".join(
        result.stdout.split()
    )
    assert "approved over the API by demo-approver" in result.stdout


def test_a_service_with_a_wrong_database_password_stops_naming_its_role_and_the_setting() -> None:
    """A refused login is a startup error at once (not a wait for an outage that never ends)."""
    local = Settings()
    wrong = database_url(local, "decider").replace("decider:", "decider:not-", 1)
    result = run_cli("decider", env={"AGENTLEDGER_DATABASE_URL": wrong}, timeout=60)
    assert result.returncode == 1
    assert 'password authentication failed for user "decider"' in result.stderr
    assert "AGENTLEDGER_DATABASE_URL" in result.stderr
    assert "not-" not in result.stderr + result.stdout  # the password is never printed
    assert "Traceback" not in result.stderr + result.stdout
