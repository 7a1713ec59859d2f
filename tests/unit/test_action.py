"""The Action aggregate: each transition and each guard, as command -> records or exception."""

from __future__ import annotations

import re

import pytest

from domain import errors
from domain.action import Action
from domain.action_state import Status
from domain.events.decisions import DecisionOutcome, Obligations
from domain.hashing import is_sealed
from domain.ids import action_id
from tests.domain_helpers import Clock, decided, names, obligations, proposal, records_of

pytestmark = pytest.mark.unit
ALLOW, DENY, ASK = DecisionOutcome.ALLOW, DecisionOutcome.DENY, DecisionOutcome.REQUIRE_APPROVAL


def _approve(action: Action, clock: Clock, approver: str = "alice", **kw: object) -> None:
    args: dict[str, object] = {
        "roles": ["ops"],
        "action_digest": action.digest,
        "resource_version": "v1",
        "agent_owner": "owner-1",
        "agent_active": True,
    }
    action.approve(clock.ctx(), approver=approver, **(args | kw))  # type: ignore[arg-type]


def _decide(  # noqa: PLR0913  # a decision states all it is based on
    action: Action,
    clock: Clock,
    outcome: DecisionOutcome,
    ob: Obligations,
    *,
    resource_version: str | None,
    agent_active: bool,
) -> None:
    action.decide(
        clock.ctx(),
        outcome=outcome,
        reasons=[],
        obligations=ob,
        bundle_digest="b",
        bundle_version="1",
        input_digest="i",
        resource_version=resource_version,
        agent_active=agent_active,
    )


def test_proposing_records_action_proposed_with_a_deterministic_id() -> None:
    """An action opens with ActionProposed; its id is uuid5 of agent and idempotency key."""
    clock = Clock()
    action = Action.propose(clock.ctx(), action_id("agent-1", "k1"), proposal())
    assert action.id == action_id("agent-1", "k1")
    assert action.status is Status.PROPOSED
    assert names(action) == ["ActionProposed"]


@pytest.mark.parametrize(
    ("outcome", "records", "status"),
    [
        (ALLOW, ["PolicyDecided", "Authorized"], Status.AUTHORIZED),
        (DENY, ["PolicyDecided"], Status.DENIED),
        (ASK, ["PolicyDecided", "ApprovalRequested"], Status.AWAITING_APPROVAL),
    ],
)
def test_a_decision_records_its_consequence(
    outcome: DecisionOutcome, records: list[str], status: Status
) -> None:
    """Allow authorizes, deny ends the action, require_approval opens an approval request."""
    clock = Clock()
    action = Action.propose(clock.ctx(), action_id("agent-1", "k1"), proposal())
    action.collect_events()
    _decide(action, clock, outcome, obligations(1), resource_version="v1", agent_active=True)
    assert names(action) == records
    assert action.status is status


def test_an_action_is_decided_once() -> None:
    """A second decision is an invalid transition."""
    clock = Clock()
    action = decided(clock, ALLOW)
    with pytest.raises(errors.InvalidTransition):
        _decide(action, clock, ALLOW, obligations(), resource_version=None, agent_active=True)


def test_a_suspended_agent_gets_nothing_authorized() -> None:
    """Invariant 7: allow for a suspended agent raises AgentSuspended and records nothing."""
    clock = Clock()
    action = Action.propose(clock.ctx(), action_id("agent-1", "k1"), proposal())
    action.collect_events()
    with pytest.raises(errors.AgentSuspended):
        _decide(action, clock, ALLOW, obligations(), resource_version=None, agent_active=False)
    assert names(action) == []


def test_quorum_of_two_authorizes_on_the_second_distinct_approval() -> None:
    """Invariant 4: two approvals needed; the second records Approved then Authorized."""
    clock = Clock()
    action = decided(clock, ASK, obligations(2, ["ops"]))
    _approve(action, clock, "alice")
    assert names(action) == ["Approved"]
    _approve(action, clock, "bob")
    assert names(action) == ["Approved", "Authorized"]
    assert action.status is Status.AUTHORIZED


@pytest.mark.parametrize(
    ("approver", "changes", "error"),
    [
        ("agent-1", {}, errors.SelfApproval),
        ("owner-1", {}, errors.SelfApproval),
        ("carol", {"roles": ["sales"]}, errors.ApproverNotEligible),
        ("carol", {"action_digest": "0" * 64}, errors.StaleApproval),
    ],
)
def test_approval_guards(approver: str, changes: dict[str, object], error: type[Exception]) -> None:
    """Invariants 3 and 4: no self-approval, roles from the obligations, digest-bound approvals."""
    clock = Clock()
    action = decided(clock, ASK, obligations(1, ["ops"]))
    with pytest.raises(error):
        _approve(action, clock, approver, **changes)


def test_the_same_approver_counts_once() -> None:
    """Invariant 4: a repeated approval by one approver is refused."""
    clock = Clock()
    action = decided(clock, ASK, obligations(2, ["ops"]))
    _approve(action, clock, "alice")
    with pytest.raises(errors.AlreadyApproved):
        _approve(action, clock, "alice")


def test_approvals_after_the_deadline_fail_closed_and_expiry_applies() -> None:
    """At the deadline approvals are refused and expire() records ApprovalExpired."""
    clock = Clock()
    action = decided(clock, ASK, obligations(1, ["ops"], ttl=60))
    with pytest.raises(errors.ApprovalStillOpen):
        action.expire(clock.ctx())
    clock.advance(60)
    with pytest.raises(errors.ApprovalWindowClosed):
        _approve(action, clock)
    action.expire(clock.ctx())
    assert names(action) == ["ApprovalExpired"]
    assert action.status is Status.APPROVAL_EXPIRED


def test_rejection_ends_the_action() -> None:
    """An approver's rejection records ApprovalRejected; the action cannot be approved after."""
    clock = Clock()
    action = decided(clock, ASK, obligations(1))
    action.reject(clock.ctx(), approver="alice", reason="no")
    assert names(action) == ["ApprovalRejected"]
    with pytest.raises(errors.InvalidTransition):
        _approve(action, clock)


@pytest.mark.parametrize(
    "setup", ["proposed", "denied", "awaiting", "expired", "revoked", "rejected"]
)
def test_nothing_executes_without_authorization(setup: str) -> None:
    """Invariant 2: start_execution raises NotAuthorized unless the action is authorized."""
    clock = Clock()
    if setup == "proposed":
        action = Action.propose(clock.ctx(), action_id("agent-1", "k1"), proposal())
    elif setup == "denied":
        action = decided(clock, DENY)
    else:
        action = decided(clock, ASK if setup != "revoked" else ALLOW, obligations(1, ttl=60))
        if setup == "expired":
            clock.advance(61)
            action.expire(clock.ctx())
        elif setup == "revoked":
            action.revoke(clock.ctx(), by="alice", reason="stop")
        elif setup == "rejected":
            action.reject(clock.ctx(), approver="alice", reason="no")
    with pytest.raises(errors.NotAuthorized):
        action.start_execution(clock.ctx(), executor="e1", resource_version="v1", actual=None)


def test_an_approval_bound_to_an_older_resource_version_is_stale() -> None:
    """Invariant 3: if the resource changed since approval, execution needs review again."""
    clock = Clock()
    action = decided(clock, ASK, obligations(1, ["ops"]))
    _approve(action, clock)
    with pytest.raises(errors.StaleApproval):
        action.start_execution(clock.ctx(), executor="e1", resource_version="v2", actual=None)


def test_a_precondition_that_no_longer_holds_stops_execution() -> None:
    """Invariant 6: the field-level difference is in the exception."""
    clock = Clock()
    action = decided(clock, ALLOW)
    with pytest.raises(
        errors.StalePrecondition,
        match=re.escape('{"email": {"actual": "other@x.io", "believed": "old@x.io"}}'),
    ):
        action.start_execution(
            clock.ctx(), executor="e1", resource_version="v1", actual={"email": "other@x.io"}
        )


def test_execution_applies_or_retries_with_the_same_idempotency_key() -> None:
    """A retryable failure allows a second attempt with the same key; success records MutationApplied."""
    clock = Clock()
    action = decided(clock, ALLOW)
    action.start_execution(
        clock.ctx(), executor="e1", resource_version="v1", actual={"email": "old@x.io"}
    )
    action.failed(clock.ctx(), error="timeout", retryable=True)
    action.start_execution(clock.ctx(), executor="e1", resource_version="v1", actual=None)
    action.applied(clock.ctx(), external_version="v2", fields={"email": "new@x.io"})
    events = records_of(action)
    assert [type(r).__name__ for r in events] == [
        "ExecutionStarted",
        "MutationFailed",
        "ExecutionStarted",
        "MutationApplied",
    ]
    first, second = events[0], events[2]
    assert (first.attempt, second.attempt) == (1, 2)
    assert first.idempotency_key == second.idempotency_key


def test_a_final_failure_ends_execution() -> None:
    """A non-retryable failure leaves the action failed; it cannot start again."""
    clock = Clock()
    action = decided(clock, ALLOW)
    action.start_execution(clock.ctx(), executor="e1", resource_version="v1", actual=None)
    action.failed(clock.ctx(), error="rejected by system", retryable=False)
    with pytest.raises(errors.NotAuthorized):
        action.start_execution(clock.ctx(), executor="e1", resource_version="v1", actual=None)


def test_revocation_cannot_interrupt_a_running_execution() -> None:
    """While executing, revoke raises ExecutionInFlight."""
    clock = Clock()
    action = decided(clock, ALLOW)
    action.start_execution(clock.ctx(), executor="e1", resource_version="v1", actual=None)
    with pytest.raises(errors.ExecutionInFlight):
        action.revoke(clock.ctx(), by="alice", reason="stop")


def test_revocation_after_execution_proposes_a_compensation() -> None:
    """Revoked(after_execution) is followed by CompensationProposed restoring the believed values."""
    clock = Clock()
    action = decided(clock, ALLOW)
    action.start_execution(clock.ctx(), executor="e1", resource_version="v1", actual=None)
    action.applied(clock.ctx(), external_version="v2", fields={})
    action.collect_events()
    assert action.compensation() is None  # nothing to undo before the revocation
    action.revoke(clock.ctx(), by="alice", reason="mistake")
    revoked, compensation = records_of(action)
    assert revoked.after_execution
    assert compensation.parameters == {"email": "old@x.io"}
    assert compensation.compensates_action_id == action.id
    assert action.compensation() == (compensation.action_type, compensation.parameters)


def test_every_event_is_sealed_and_linked_to_the_one_before() -> None:
    """Tamper evidence: each record's hash covers it, and previous_hash is its predecessor's hash."""
    clock = Clock()
    action = Action.propose(clock.ctx(), action_id("agent-1", "k1"), proposal())
    _decide(action, clock, ASK, obligations(1), resource_version="v1", agent_active=True)
    _approve(action, clock)
    records = records_of(action)
    assert all(is_sealed(r) for r in records)
    assert [r.metadata.previous_hash for r in records] == [None] + [
        r.metadata.hash for r in records[:-1]
    ]
    assert [r.metadata.aggregate_version for r in records] == list(range(1, len(records) + 1))
    tampered = records[1].model_copy(update={"reasons": []})
    assert is_sealed(tampered) == (tampered == records[1])
