"""The HTTP API against the real ledger, the real systems and the real broker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi.testclient import TestClient

from agentledger.api.app import create_app
from agentledger.api.server import ApiServer
from agentledger.bootstrap import connectors, topic_serdes
from agentledger.services import running
from agentledger.settings import Settings
from agentledger.signing_keys import service_key
from domain.events import ActionProposed
from domain.events.decisions import DecisionOutcome
from domain.ids import action_id
from domain.signing import as_service
from infra.connectors.registry import Connectors
from infra.ledger.ledger import Ledger
from infra.proposal_sink import ProposalSink
from projections.timeline import TimelineEntry
from tests.decider_helpers import read_topic
from tests.execution_helpers import agent, decide, desk, resource
from tests.kafka_helpers import operator

pytestmark = pytest.mark.integration
ALICE = {"Authorization": "Bearer tok-alice"}
AGENT = {"Authorization": "Bearer tok-agent"}
TIMELINES: dict[UUID, list[TimelineEntry]] = {}
"""What the timeline view shows the API in these tests (the view has its own tests)."""
BOB = {"Authorization": "Bearer tok-bob"}
PROPOSAL = {"resource": "crm/contact/7", "action_type": "contact.update", "idempotency_key": "k"}


@pytest.fixture
def api(isolated: Settings, own_ledger: Ledger, systems: Connectors) -> Iterator[TestClient]:
    """The API app over the isolated ledger; agent token ``tok-agent`` is agent ``api-agent``."""
    sink = _sink(isolated)
    app = create_app(
        desk(own_ledger, systems), own_ledger, sink, lambda: {"tok-agent": "api-agent"},
        lambda aid: TIMELINES.get(aid, []), max_body_bytes=isolated.max_record_bytes,
        failed_logins="1000/minute",  # test_failed_logins_are_limited has its own
    )  # fmt: skip
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_nothing_is_served_without_a_valid_token(api: TestClient, own_ledger: Ledger) -> None:
    """Every route refuses a missing or unknown token with a 401 problem; an agent cannot approve."""
    aid = decide(own_ledger, agent(own_ledger), resource("billing", "invoice"))
    calls = [
        ("get", "/approvals", None), ("get", f"/actions/{aid}", None),
        ("post", f"/approvals/{aid}/approve", {}), ("post", f"/approvals/{aid}/reject", {"reason": "x"}),
        ("post", f"/approvals/{aid}/revoke", {"reason": "x"}),
        ("post", "/proposals", {"resource": "crm/contact/1", "action_type": "contact.update", "idempotency_key": "k"}),
    ]  # fmt: skip
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic tok-alice"}):
        for method, url, body in calls:
            response = api.request(method, url, json=body, headers=headers)
            assert response.status_code == 401, (method, url, headers)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"] == "urn:agentledger:problem:unauthenticated"
    agent_headers = {"Authorization": "Bearer tok-agent"}
    assert api.post(f"/approvals/{aid}/approve", json={}, headers=agent_headers).status_code == 401
    assert desk(own_ledger, connectors(Settings())).request(aid).state == "pending"


def test_an_approver_lists_approves_and_sees_the_timeline(
    api: TestClient, own_ledger: Ledger
) -> None:
    """Pending requests are listed; approving authorizes; the action's timeline shows every event."""
    key = resource("billing", "invoice")
    aid = decide(own_ledger, agent(own_ledger), key, roles=["security"])
    pending = api.get("/approvals", params={"state": "pending", "limit": 1000}, headers=ALICE)
    assert pending.status_code == 200
    assert str(aid) in {row["action_id"] for row in pending.json()}
    approved = api.post(f"/approvals/{aid}/approve", json={"comment": "ok"}, headers=BOB)
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"
    action = api.get(f"/actions/{aid}", headers=ALICE).json()
    assert action["status"] == "authorized"
    assert [e["event"] for e in action["timeline"]] == [
        "ActionProposed", "PolicyDecided", "ApprovalRequested", "Approved", "Authorized",
    ]  # fmt: skip


def test_refusals_are_problem_details(api: TestClient, own_ledger: Ledger) -> None:
    """A wrong role is 403, a second decision 409, an unknown action 404, a bad body 422."""
    aid = decide(own_ledger, agent(own_ledger), resource("billing", "invoice"), roles=["finance"])
    wrong_role = api.post(f"/approvals/{aid}/approve", json={}, headers=ALICE)
    assert (wrong_role.status_code, wrong_role.json()["type"]) == (
        403,
        "urn:agentledger:problem:approver_not_eligible",
    )
    assert (
        api.post(f"/approvals/{aid}/reject", json={"reason": "no"}, headers=ALICE).status_code
        == 200
    )
    again = api.post(f"/approvals/{aid}/reject", json={"reason": "no"}, headers=ALICE)
    assert again.status_code == 409
    missing = api.get("/actions/00000000-0000-0000-0000-000000000001", headers=ALICE)
    assert missing.status_code == 404
    bad = api.post(f"/approvals/{aid}/reject", json={"reason": ""}, headers=ALICE)
    assert (bad.status_code, bad.json()["type"]) == (422, "urn:agentledger:problem:invalid_request")
    allowed = decide(
        own_ledger, agent(own_ledger), resource("billing", "invoice"), outcome=DecisionOutcome.ALLOW
    )
    assert (
        api.post(f"/approvals/{allowed}/revoke", json={"reason": "stop"}, headers=ALICE).json()[
            "status"
        ]
        == "revoked"
    )


def test_an_agent_proposes_over_http_and_reads_only_its_own_actions(
    api: TestClient, isolated: Settings, own_ledger: Ledger
) -> None:
    """POST /proposals puts an ActionProposed for the token's agent on proposals.v1."""
    body = {"resource": "crm/contact/7", "action_type": "contact.update", "idempotency_key": "http-1",
            "parameters": {"tier": "gold"}, "confidence": 0.9}  # fmt: skip
    response = api.post("/proposals", json=body, headers={"Authorization": "Bearer tok-agent"})
    assert response.status_code == 202, response.text
    (record,) = read_topic(isolated, "proposals.v1", until=1)
    assert isinstance(record, ActionProposed)
    assert (record.agent_id, record.idempotency_key, record.parameters) == (
        "api-agent",
        "http-1",
        {"tier": "gold"},
    )
    assert response.json()["action_id"] == str(action_id("api-agent", "http-1"))
    other = decide(own_ledger, agent(own_ledger), resource("billing", "invoice"))
    assert (
        api.get(f"/actions/{other}", headers={"Authorization": "Bearer tok-agent"}).status_code
        == 404
    )
    bad = api.post(
        "/proposals", json={**body, "confidence": 7}, headers={"Authorization": "Bearer tok-agent"}
    )
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"resource": "crm"}, "body.resource"),
        ({"action_type": "contact update"}, "action_type"),
        ({"estimated_cost": "1e30"}, "estimated_cost"),
        ({"rationale": "x" * 5000}, "rationale"),
    ],
)
def test_a_proposal_the_contract_refuses_is_a_422_naming_the_field(
    api: TestClient, isolated: Settings, change: dict[str, str], named: str
) -> None:
    """Checks beyond the body's model (key shape, names, amounts, sizes) answer 422, not 500.

    Nothing goes to proposals.v1: the agent learns at once what to fix.
    """
    body = {"resource": "crm/contact/7", "action_type": "contact.update",
            "idempotency_key": "http-bad", **change}  # fmt: skip
    response = api.post("/proposals", json=body, headers={"Authorization": "Bearer tok-agent"})
    assert (response.status_code, response.json()["type"]) == (
        422,
        "urn:agentledger:problem:invalid_request",
    )
    assert named in response.json()["detail"]
    assert read_topic(isolated, "proposals.v1", until=1, timeout_s=2) == []


def test_a_value_the_attestation_cannot_state_exactly_is_a_422(
    api: TestClient, isolated: Settings
) -> None:
    """An integer beyond 2**53 - 1 cannot be signed exactly: 422 saying so, nothing sent."""
    body = {"resource": "crm/contact/7", "action_type": "contact.update",
            "idempotency_key": "http-big", "parameters": {"id": 2**53}}  # fmt: skip
    response = api.post("/proposals", json=body, headers={"Authorization": "Bearer tok-agent"})
    assert (response.status_code, response.json()["type"]) == (
        422, "urn:agentledger:problem:unsignable"
    )  # fmt: skip
    assert "send it as a Decimal" in response.json()["detail"]
    assert read_topic(isolated, "proposals.v1", until=1, timeout_s=2) == []


def test_the_openapi_document_is_served(api: TestClient) -> None:
    """/docs and /openapi.json describe every route."""
    assert api.get("/docs").status_code == 200
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/proposals", "/actions/{aid}", "/approvals", "/approvals/{aid}/approve"} <= set(paths)


def _entry(event: str, at: datetime, **data: object) -> TimelineEntry:
    return TimelineEntry(uuid4(), event, at, 1, dict(data), None, None)


def test_an_agent_reads_the_first_decision_since_it_proposed_and_only_its_own(
    api: TestClient,
) -> None:
    """`GET /actions/{id}/decision`: 404 until decided, then the decision; another's is 404.

    A repeated key is answered by its rejection, not by the decision the first proposal got.
    """
    mine, theirs, t0 = uuid4(), uuid4(), datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    url = f"/actions/{mine}/decision"
    assert api.get(url, headers=AGENT).status_code == 404
    TIMELINES[mine] = [
        _entry("ActionProposed", t0, agent_id="api-agent"),
        _entry("PolicyDecided", t0 + timedelta(seconds=1), agent_id="api-agent",
               outcome="allow", reasons=[{"code": "ok", "message": "fine"}],
               obligations={"approvals_required": 0, "approver_roles": [], "extra": {}},
               bundle_digest="b", bundle_version="1", input_digest="i"),
        _entry("ProposalRejected", t0 + timedelta(seconds=9), agent_id="api-agent",
               reason={"code": "duplicate", "message": "again"}, existing_action_id=str(mine)),
    ]  # fmt: skip
    TIMELINES[theirs] = [_entry("PolicyDecided", t0, agent_id="someone-else", outcome="deny",
                                reasons=[], obligations={}, bundle_digest="b",
                                bundle_version="1", input_digest="i")]  # fmt: skip
    first = api.get(url, headers=AGENT)
    assert first.status_code == 200
    assert (first.json()["outcome"], first.json()["bundle_digest"]) == ("allow", "b")
    later = api.get(url, headers=AGENT, params={"since": (t0 + timedelta(seconds=5)).isoformat()})
    assert (later.json()["outcome"], later.json()["existing_action_id"]) == ("rejected", str(mine))
    assert api.get(f"/actions/{theirs}/decision", headers=AGENT).status_code == 404
    assert api.get(f"/actions/{theirs}/decision", headers=ALICE).json()["outcome"] == "deny"
    assert api.get(url).status_code == 401
    naive = api.get(url, headers=AGENT, params={"since": "2026-12-05T08:00:00"})
    assert naive.status_code == 422  # a moment without its zone means nothing here


def _deep(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        (b'{"resource": "' + b"x" * 2_000_000 + b'"}', 413, "larger than"),
        (b"[" * 100_000 + b"]" * 100_000, 422, "nests deeper"),
        (json.dumps({**PROPOSAL, "parameters": _deep(300)}).encode(), 422, "parameters.a.a"),
        (json.dumps({**PROPOSAL, "parameters": {"n": "a\x00"}}).encode(), 422, "NUL"),
        (json.dumps({**PROPOSAL, "resource": "crm/contact/\ud800"}).encode(), 422, "surrogate"),
        (json.dumps({**PROPOSAL, "estimated_cost": -1}).encode(), 422, "estimated_cost"),
    ],
    ids=["2MB", "100k-deep", "parameters-300-deep", "nul", "lone-surrogate", "negative-cost"],
)
def test_a_body_over_a_limit_is_refused_before_anything_is_sent(
    api: TestClient, isolated: Settings, body: bytes, status: int, named: str
) -> None:
    """Too large: 413. Nested too deep, a NUL, a lone surrogate, a negative cost: 422.

    Each names what broke, as a problem; nothing reaches proposals.v1.
    """
    headers = {**AGENT, "Content-Type": "application/json"}
    response = api.post("/proposals", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert named in response.json()["detail"]
    assert read_topic(isolated, "proposals.v1", until=1, timeout_s=2) == []


def test_text_no_store_accepts_is_refused_on_every_route(
    api: TestClient, own_ledger: Ledger
) -> None:
    """A NUL in a rejection's reason is a 422, and the request stays pending."""
    aid = decide(own_ledger, agent(own_ledger), resource("billing", "invoice"))
    refused = api.post(f"/approvals/{aid}/reject", json={"reason": "no\x00"}, headers=ALICE)
    assert (refused.status_code, refused.json()["type"]) == (
        422,
        "urn:agentledger:problem:invalid_request",
    )
    assert desk(own_ledger, connectors(Settings())).request(aid).state == "pending"


def test_a_stored_request_nested_300_deep_is_still_listed(
    api: TestClient, own_ledger: Ledger
) -> None:
    """Parameters stored before the limits existed: the queue and the action still answer."""
    aid = decide(own_ledger, agent(own_ledger), resource("crm", "contact"), parameters=_deep(300))
    listing = api.get("/approvals", params={"limit": 1000}, headers=ALICE)
    assert listing.status_code == 200, listing.text
    (row,) = [row for row in listing.json() if row["action_id"] == str(aid)]
    assert "not shown" in json.dumps(row["parameters"])
    action = api.get(f"/actions/{aid}", headers=ALICE)
    assert action.status_code == 200, action.text


def test_failed_logins_are_limited_per_client(
    isolated: Settings, own_ledger: Ledger, systems: Connectors
) -> None:
    """Past 5 failures a minute, every request from that client is 429 with Retry-After."""
    sink = _sink(isolated)
    app = create_app(
        desk(own_ledger, systems), own_ledger, sink, dict, lambda _aid: [],
        max_body_bytes=isolated.max_record_bytes, failed_logins="5/minute",
    )  # fmt: skip
    with TestClient(app, raise_server_exceptions=False) as client:
        wrong = [client.get("/approvals", headers={"Authorization": f"Bearer guess-{n}"})
                 for n in range(300)]  # fmt: skip
        assert [r.status_code for r in wrong[:5]] == [401] * 5
        assert {r.status_code for r in wrong[5:]} == {429}
        assert 1 <= int(wrong[-1].headers["Retry-After"]) <= 60
        assert wrong[-1].headers["content-type"] == "application/problem+json"
        assert client.get("/approvals", headers=ALICE).status_code == 429  # no guessing meanwhile


def test_a_proposal_whose_record_outgrows_the_limit_is_a_413(
    api: TestClient, isolated: Settings
) -> None:
    """A body under the limit whose Avro record is over it (each 0.5 costs 10 bytes): 413."""
    body = {**PROPOSAL, "parameters": {"a": [0.5] * 200_000}}
    response = api.post("/proposals", json=body, headers=AGENT)
    assert (response.status_code, response.json()["type"]) == (
        413,
        "urn:agentledger:problem:proposal_too_large",
    )
    long_plan = api.post("/proposals", json={**PROPOSAL, "plan_id": "p" * 1_020_000}, headers=AGENT)
    assert long_plan.status_code == 422
    assert read_topic(isolated, "proposals.v1", until=1, timeout_s=2) == []


def test_a_forwarded_for_header_chooses_nothing(
    isolated: Settings, own_ledger: Ledger, systems: Connectors
) -> None:
    """Over real HTTP, failures count on the peer address whatever X-Forwarded-For says."""
    served = isolated.model_copy(update={"api_failed_logins": "5/minute"})
    server = ApiServer(served, own_ledger, systems)
    with (
        running([("the API", server.run, server.ready)]),
        httpx.Client(base_url=served.api) as http,
    ):
        answers = [
            http.get("/approvals", headers={"Authorization": f"Bearer guess-{n}",
                                            "X-Forwarded-For": f"192.0.2.{n}"})
            for n in range(8)
        ]  # fmt: skip
    assert [a.status_code for a in answers] == [401] * 5 + [429] * 3


def _sink(settings: Settings) -> ProposalSink:
    """Where the API puts proposals, sealed as the API service."""
    serde = topic_serdes(settings, "proposals.v1")["proposals.v1"]
    return ProposalSink(
        operator(settings), serde, settings.partitions,
        seal=as_service(service_key(settings, "api")),
    )  # fmt: skip
