"""Operators pull the controls over the API: only with the role, always with who and why."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from agentledger.api.app import create_app
from agentledger.bootstrap import system_context, topic_serdes
from agentledger.client import DecisionTimeout
from agentledger.settings import Settings
from agentledger.signing_keys import service_key
from domain.signing import as_service, public_bytes
from infra.connectors.registry import Connectors
from infra.ledger.ledger import Ledger
from infra.proposal_sink import ProposalSink
from tests.decider_helpers import register, running
from tests.execution_helpers import agent, desk
from tests.kafka_helpers import enrolled_client, operator

pytestmark = pytest.mark.integration
ALICE = {"Authorization": "Bearer tok-alice"}  # an approver (security, reviewer)
OPAL = {"Authorization": "Bearer tok-opal"}  # an operator
AGENT = {"Authorization": "Bearer tok-agent"}


@pytest.fixture
def api(isolated: Settings, own_ledger: Ledger, systems: Connectors) -> Iterator[TestClient]:
    """The API app over the isolated ledger (approvers of tests.execution_helpers)."""
    serde = topic_serdes(isolated, "proposals.v1")["proposals.v1"]
    sink = ProposalSink(operator(isolated), serde, isolated.partitions,
                        seal=as_service(service_key(isolated, "api")))  # fmt: skip
    app = create_app(
        desk(own_ledger, systems), own_ledger, sink, lambda: {"tok-agent": "api-agent"},
        lambda _aid: [], max_body_bytes=isolated.max_record_bytes, failed_logins="1000/minute",
    )  # fmt: skip
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _controls(agent_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    key = base64.b64encode(public_bytes(Ed25519PrivateKey.generate())).decode()
    return [
        ("post", f"/agents/{agent_id}/suspend", {"reason": "r1: misbehaving"}),
        ("post", f"/agents/{agent_id}/reinstate", {"reason": "r2: fixed"}),
        ("put", f"/agents/{agent_id}/scopes", {"scopes": ["crm:*"], "reason": "r3: narrower"}),
        ("put", f"/agents/{agent_id}/budget",
         {"period": "month", "limit": "900.50", "reason": "r4: quarter end"}),
        ("post", f"/agents/{agent_id}/keys", {"public_key": key}),
        ("post", "/fleet/stop", {"reason": "r5: incident"}),
        ("post", "/fleet/resume", {"reason": "r6: resolved"}),
    ]  # fmt: skip


def test_every_control_needs_the_operator_role_and_each_is_audited_with_who_and_why(
    api: TestClient, own_ledger: Ledger
) -> None:
    """An approver without the role gets 403, an agent or no token 401: nothing is recorded.

    The operator's calls succeed, and the audit of controls names the operator and reason.
    """
    agent_id = agent(own_ledger)
    for headers, status in ((ALICE, 403), (AGENT, 401), ({}, 401)):
        for method, url, body in _controls(agent_id):
            answer = api.request(method, url, json=body, headers=headers)
            assert answer.status_code == status, (method, url, answer.text)
    assert [e for e in api.get("/controls", headers=ALICE).json() if e["by"] == "opal"] == []
    for method, url, body in _controls(agent_id):
        answer = api.request(method, url, json=body, headers=OPAL)
        assert answer.status_code in {200, 201}, (method, url, answer.text)
    audit = [e for e in api.get("/controls", headers=ALICE).json() if e["by"] == "opal"]
    assert [(e["control"], e["subject"], e["reason"]) for e in audit] == [
        ("suspended", agent_id, "r1: misbehaving"),
        ("reinstated", agent_id, "r2: fixed"),
        ("scopes_changed", agent_id, "r3: narrower"),
        ("budget_changed", agent_id, "r4: quarter end"),
        ("key_registered", agent_id, None),
        ("emergency_stop", "fleet", "r5: incident"),
        ("resumed", "fleet", "r6: resolved"),
    ]
    shown = api.get(f"/agents/{agent_id}", headers=ALICE).json()
    assert shown["scopes"] == ["crm:*"]
    assert shown["suspended"] is False
    month = next(p for p in shown["budget"] if p["period"] == "month")
    assert (month["limit"], month["settled"]) == ("900.5000", "0")
    assert agent_id in {a["agent_id"] for a in api.get("/agents", headers=ALICE).json()}


def test_the_stop_is_shown_to_agents_and_approvers_and_a_malformed_control_is_refused(
    api: TestClient, own_ledger: Ledger
) -> None:
    """`GET /fleet` answers anyone signed in; a control without a reason is a 422."""
    assert api.get("/fleet", headers=AGENT).json() == {
        "stopped": False, "since": None, "by": None, "reason": None,
    }  # fmt: skip
    assert api.post("/fleet/stop", json={}, headers=OPAL).status_code == 422
    assert api.post("/fleet/stop", json={"reason": "drill"}, headers=OPAL).status_code == 200
    shown = api.get("/fleet", headers=ALICE).json()
    assert (shown["stopped"], shown["by"], shown["reason"]) == (True, "opal", "drill")
    answer = api.put(f"/agents/{agent(own_ledger)}/budget", headers=OPAL,
                     json={"limit": "-1", "reason": "x"})  # fmt: skip
    assert answer.status_code == 422


def test_under_an_emergency_stop_proposals_wait_and_are_decided_once_it_is_lifted(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """No decision while stopped (nothing is lost: the proposal waits in Kafka); then one."""
    register(own_ledger, "waiting")
    with running(isolated, own_ledger):
        client = enrolled_client("waiting", isolated)
        with own_ledger.batch(system_context()) as tx:
            tx.stop_all(reason="drill", by="opal")
        ref = client.propose(resource="crm/contact/1", action_type="contact.update",
                             idempotency_key="w")  # fmt: skip
        with pytest.raises(DecisionTimeout):
            client.wait_for_decision(ref, 5)
        with own_ledger.batch(system_context()) as tx:
            tx.resume_all(reason="drill over", by="opal")
        assert client.wait_for_decision(ref, 60).outcome == "require_approval"
