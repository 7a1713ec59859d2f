"""Stale approvals go back to the approvers; compensations are proposals of their own."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain import errors
from domain.action import Action
from domain.action_state import Status
from domain.agent import Agent
from domain.events.decisions import DecisionOutcome
from domain.ids import action_id, compensation_key
from tests.domain_helpers import Clock, decided, names, obligations, proposal, records_of

ASK, ALLOW = DecisionOutcome.REQUIRE_APPROVAL, DecisionOutcome.ALLOW


def _approve(action: Action, clock: Clock, approver: str, version: str) -> None:
    action.approve(
        clock.ctx(), approver=approver, roles=["ops"], action_digest=action.digest,
        resource_version=version, agent_owner="owner-1", agent_active=True,
    )  # fmt: skip


def test_a_stale_approval_sends_the_action_back_for_review_at_the_new_version() -> None:
    """Once the target moved on, request_review re-opens approval bound to the new version."""
    clock = Clock()
    action = decided(clock, ASK, obligations(1, ["ops"], ttl=600))
    _approve(action, clock, "alice", "v1")
    action.collect_events()
    with pytest.raises(errors.StaleApproval):
        action.start_execution(clock.ctx(), executor="e1", resource_version="v2", actual=None)
    clock.advance(10)
    action.request_review(clock.ctx(), resource_version="v2")
    (request,) = records_of(action)
    assert type(request).__name__ == "ApprovalRequested"
    assert request.resource_version == "v2"
    assert (request.expires_at - clock.now).total_seconds() == 600
    assert action.status is Status.AWAITING_APPROVAL
    assert action.approvals == {}


def test_after_review_the_same_approver_may_approve_again_and_execution_proceeds() -> None:
    """The old approvals no longer count; a fresh approval at v2 authorizes execution at v2."""
    clock = Clock()
    action = decided(clock, ASK, obligations(1, ["ops"]))
    _approve(action, clock, "alice", "v1")
    action.request_review(clock.ctx(), resource_version="v2")
    action.collect_events()
    _approve(action, clock, "alice", "v2")
    assert names(action) == ["Approved", "Authorized"]
    action.start_execution(clock.ctx(), executor="e1", resource_version="v2", actual=None)
    (started,) = records_of(action)
    assert started.expected_version == "v2"


def test_review_is_refused_for_an_action_that_may_not_execute() -> None:
    """Only an authorized action (or a retry of one) can be sent back for review."""
    clock = Clock()
    action = decided(clock, ASK, obligations(1, ["ops"]))
    with pytest.raises(errors.NotAuthorized):
        action.request_review(clock.ctx(), resource_version="v2")


def test_execution_expects_the_version_the_decision_saw_else_the_one_it_read() -> None:
    """A decision bound to a version keeps it (a later change conflicts); unbound, the read one."""
    clock = Clock()
    bound = decided(clock, ALLOW)
    bound.start_execution(clock.ctx(), executor="e1", resource_version="7", actual=None)
    assert records_of(bound)[0].expected_version == "v1"
    unbound = Action.propose(clock.ctx(), action_id("agent-1", "k9"), proposal("k9"))
    unbound.decide(
        clock.ctx(), outcome=ALLOW, reasons=[], obligations=obligations(), bundle_digest="b" * 64,
        bundle_version="1", input_digest="i" * 64, resource_version=None, agent_active=True,
    )  # fmt: skip
    unbound.collect_events()
    unbound.start_execution(clock.ctx(), executor="e1", resource_version="7", actual=None)
    assert records_of(unbound)[0].expected_version == "7"


def test_a_compensation_is_the_action_its_proposal_will_open() -> None:
    """CompensationProposed names the action id its proposal (agent, derived key) maps to."""
    clock = Clock()
    action = decided(clock, ALLOW)
    action.start_execution(clock.ctx(), executor="e1", resource_version="v1", actual=None)
    action.applied(clock.ctx(), external_version="v2", fields={})
    action.collect_events()
    action.revoke(clock.ctx(), by="alice", reason="mistake")
    _, compensation = records_of(action)
    assert compensation.action_id == action_id(action.agent_id, compensation_key(action.id))
    assert compensation.action_type == "contact.update.compensate"


def test_an_agent_may_propose_the_compensation_of_what_it_may_do() -> None:
    """The scope of an action type covers its compensation, and nothing beyond it."""
    clock = Clock()
    agent = Agent.register(
        clock.ctx(), agent_id="a1", name="A", owner="o", scopes=["crm:contact.update"],
        budget_limit=Decimal(10),
    )  # fmt: skip
    assert agent.may("crm", "contact.update.compensate")
    assert not agent.may("crm", "contact.delete.compensate")
    assert not agent.may("billing", "contact.update.compensate")


def test_an_approval_at_a_newer_version_authorizes_and_executes_at_that_version() -> None:
    """Requested at v1, the resource moved to v2, approved at v2: authorized and run expecting v2."""
    clock = Clock()
    action = decided(clock, ASK, obligations(1, ["ops"]))
    _approve(action, clock, "alice", "v2")
    _, authorized = records_of(action)
    assert authorized.expected_version == "v2"
    action.start_execution(clock.ctx(), executor="e1", resource_version="v2", actual=None)
    (started,) = records_of(action)
    assert started.expected_version == "v2"


def test_a_review_approved_after_another_write_executes_at_the_approved_version() -> None:
    """Review asked at v2, a write made it v3, approval bound to v3: execution expects v3."""
    clock = Clock()
    action = decided(clock, ASK, obligations(1, ["ops"]))
    _approve(action, clock, "alice", "v1")
    action.request_review(clock.ctx(), resource_version="v2")
    _approve(action, clock, "alice", "v3")
    action.collect_events()
    action.start_execution(clock.ctx(), executor="e1", resource_version="v3", actual=None)
    (started,) = records_of(action)
    assert started.expected_version == "v3"


def test_a_quorum_bound_to_two_versions_is_stale_at_either() -> None:
    """One approver at v1, the other at v2: whatever the resource is now, one approval is stale."""
    clock = Clock()
    for now in ("v1", "v2"):
        action = decided(clock, ASK, obligations(2, ["ops"]))
        _approve(action, clock, "alice", "v1")
        _approve(action, clock, "bob", "v2")
        with pytest.raises(errors.StaleApproval):
            action.start_execution(clock.ctx(), executor="e1", resource_version=now, actual=None)


def test_an_approval_of_an_absent_resource_is_stale_once_the_resource_exists() -> None:
    """Approved while the resource did not exist (version None): created since, it needs review."""
    clock = Clock()
    action = decided(clock, ASK, obligations(1, ["ops"]))
    action.approve(
        clock.ctx(), approver="alice", roles=["ops"], action_digest=action.digest,
        resource_version=None, agent_owner="owner-1", agent_active=True,
    )  # fmt: skip
    with pytest.raises(errors.StaleApproval):
        action.start_execution(clock.ctx(), executor="e1", resource_version="v1", actual=None)
    action.start_execution(clock.ctx(), executor="e1", resource_version=None, actual=None)
