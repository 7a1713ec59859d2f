"""Every approval rule against the real ledger and the real external systems."""

from __future__ import annotations

import logging
from uuid import UUID

import pytest

from agentledger.approvals import Unauthenticated
from agentledger.bootstrap import context_at, ledger
from agentledger.settings import Settings
from consumers.executor.executor import Outcome
from consumers.expirer.expirer import Expirer
from domain import errors
from domain.action_state import Status
from domain.events.decisions import DecisionOutcome
from domain.values import ResourceRef
from infra.connectors.base import Mutation, Operation
from infra.connectors.postgres_sor import PostgresSystemOfRecord
from infra.connectors.registry import Connectors
from infra.ledger.commands import Commands
from infra.ledger.ledger import Ledger
from tests.execution_helpers import (
    ALICE,
    BOB,
    CAROL,
    Clock,
    agent,
    decide,
    desk,
    event_names,
    executor,
    resource,
)

pytestmark = pytest.mark.integration


def _seed(systems: Connectors, key: str) -> str:
    """Create the resource in its system; its version."""
    ref = ResourceRef.parse(key)
    applied = systems[ref.system].apply(
        Mutation(ref, Operation.UPSERT, {"tier": "silver"}), f"seed-{key}", None
    )
    return applied.external_version


def test_quorum_and_roles_come_from_the_obligations(
    own_ledger: Ledger, systems: Connectors
) -> None:
    """Two distinct approvers holding a named role authorize; one, or a wrong role, does not."""
    key = resource("billing", "invoice")
    _seed(systems, key)
    aid = decide(own_ledger, agent(own_ledger), key, approvals=2, roles=["security"])
    the_desk = desk(own_ledger, systems)
    with pytest.raises(errors.ApproverNotEligible):
        the_desk.approve(CAROL, aid)
    assert the_desk.approve(ALICE, aid).status is Status.AWAITING_APPROVAL
    with pytest.raises(errors.AlreadyApproved):
        the_desk.approve(ALICE, aid)
    assert the_desk.approve(BOB, aid).status is Status.AUTHORIZED
    row = the_desk.request(aid)
    assert (row.state, row.approved_by) == ("approved", ["alice", "bob"])


def test_an_agent_owner_never_approves_the_agents_action(
    own_ledger: Ledger, systems: Connectors
) -> None:
    """Self-approval is refused even for an approver with the right role."""
    key = resource("crm", "contact")
    _seed(systems, key)
    agent_id = agent(own_ledger)
    aid = decide(own_ledger, agent_id, key, roles=["security"])
    owner = ALICE.__class__(f"owner-of-{agent_id}", ["security"])
    with pytest.raises(errors.SelfApproval):
        desk(own_ledger, systems).approve(owner, aid)


def test_tokens_identify_approvers_and_nothing_else(
    own_ledger: Ledger, systems: Connectors
) -> None:
    """A missing or unknown token is Unauthenticated."""
    the_desk = desk(own_ledger, systems)
    assert the_desk.identify("tok-alice") == ALICE
    for token in (None, "", "tok-nobody", "tok-alice "):
        with pytest.raises(Unauthenticated):
            the_desk.identify(token)


def test_an_expired_request_fails_closed_even_across_a_restart(
    own_ledger: Ledger, isolated: Settings, systems: Connectors
) -> None:
    """The deadline is a row: a new expirer process expires it, and a late approval is refused."""
    key = resource("billing", "invoice")
    _seed(systems, key)
    aid = decide(own_ledger, agent(own_ledger), key, ttl=60)
    clock = Clock()
    assert Expirer(own_ledger, clock, context_at).run_once() == []
    restarted = ledger(isolated)
    try:
        clock.advance(61)
        assert Expirer(restarted, clock, context_at).run_once() == [aid]
        assert Expirer(restarted, clock, context_at).run_once() == []
    finally:
        restarted.close()
    with pytest.raises(errors.InvalidTransition):
        desk(own_ledger, systems).approve(ALICE, aid)
    assert desk(own_ledger, systems).request(aid).state == "expired"
    assert executor(own_ledger, systems).execute(aid) is Outcome.SKIPPED


def test_a_request_that_cannot_expire_does_not_hold_up_those_due_after_it(
    own_ledger: Ledger, systems: Connectors, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """Due requests go oldest first; one that fails to expire is logged and passed over."""
    first = decide(own_ledger, agent(own_ledger), resource("billing", "invoice"), ttl=60)
    second = decide(own_ledger, agent(own_ledger), resource("billing", "invoice"), ttl=90)
    expire = Commands.expire

    def failing(self: Commands, aid: UUID) -> None:
        if aid == first:
            raise LookupError("the request's action cannot be loaded")
        expire(self, aid)

    monkeypatch.setattr(Commands, "expire", failing)
    clock = Clock()
    clock.advance(91)
    with caplog.at_level(logging.ERROR, logger="agentledger.expirer"):
        assert Expirer(own_ledger, clock, context_at).run_once() == [second]
    assert f"cannot expire the approval for {first}" in caplog.text
    monkeypatch.undo()
    assert Expirer(own_ledger, clock, context_at).run_once() == [first]
    assert desk(own_ledger, systems).request(first).state == "expired"


def _sent_back_for_review(
    own_ledger: Ledger, systems: Connectors, settings: Settings, system: str
) -> tuple[UUID, ResourceRef, str]:
    """An action approved, then changed out of band: the executor asked for a review.

    Its id, its resource and its agent.
    """
    key = resource(system, "contact")
    _seed(systems, key)
    owner = agent(own_ledger)
    aid = decide(own_ledger, owner, key, parameters={"tier": "gold"})
    desk(own_ledger, systems).approve(ALICE, aid)
    _edit_out_of_band(systems, settings, ResourceRef.parse(key))
    assert executor(own_ledger, systems).execute(aid) is Outcome.REVIEW_REQUESTED
    return aid, ResourceRef.parse(key), owner


@pytest.mark.parametrize("system", ["billing", "crm"])
def test_an_approval_goes_stale_when_the_target_changes_before_execution(
    own_ledger: Ledger, systems: Connectors, settings: Settings, system: str
) -> None:
    """Approved at version N, changed out of band to N+1: review again, then execute at N+1."""
    aid, ref, _ = _sent_back_for_review(own_ledger, systems, settings, system)
    the_desk = desk(own_ledger, systems)
    row = the_desk.request(aid)
    moved = systems[system].current(ref).version
    assert (row.state, row.resource_version, row.approved_by) == ("pending", moved, [])
    the_desk.approve(ALICE, aid)
    assert executor(own_ledger, systems).execute(aid) is Outcome.APPLIED
    assert systems[system].current(ref).fields["tier"] == "gold"


@pytest.mark.parametrize("system", ["billing", "crm"])
def test_a_review_approved_after_another_governed_write_runs_at_the_version_approved(
    own_ledger: Ledger, systems: Connectors, settings: Settings, system: str
) -> None:
    """Review asked at Y, another action applied (Z), approval bound to Z: it runs, expecting Z."""
    aid, ref, owner = _sent_back_for_review(own_ledger, systems, settings, system)
    the_desk, run = desk(own_ledger, systems), executor(own_ledger, systems)
    other = decide(own_ledger, owner, ref.key, parameters={"note": "governed"},
                   outcome=DecisionOutcome.ALLOW)  # fmt: skip
    assert run.execute(other) is Outcome.APPLIED
    now = systems[system].current(ref).version
    assert now != the_desk.request(aid).resource_version
    the_desk.approve(ALICE, aid)
    assert run.execute(aid) is Outcome.APPLIED
    records = [getattr(event, "record", None) for event in own_ledger.events.get(aid)]
    started = [r for r in records if type(r).__name__ == "ExecutionStarted"]
    assert [getattr(r, "expected_version", None) for r in started] == [now]
    assert systems[system].current(ref).fields["tier"] == "gold"


def test_a_revocation_before_execution_stops_it(own_ledger: Ledger, systems: Connectors) -> None:
    """Revoked while authorized: the executor skips it and the system never changes."""
    key = resource("billing", "invoice")
    version = _seed(systems, key)
    aid = decide(own_ledger, agent(own_ledger), key, outcome=DecisionOutcome.ALLOW)
    desk(own_ledger, systems).revoke(BOB, aid, "changed my mind")
    assert executor(own_ledger, systems).execute(aid) is Outcome.SKIPPED
    assert systems["billing"].current(ResourceRef.parse(key)).version == version


def test_a_revocation_after_execution_proposes_a_compensation(
    own_ledger: Ledger, systems: Connectors
) -> None:
    """Revoked once applied: CompensationProposed restores the believed values through policy."""
    key = resource("billing", "invoice")
    _seed(systems, key)
    aid = decide(own_ledger, agent(own_ledger), key, outcome=DecisionOutcome.ALLOW)
    assert executor(own_ledger, systems).execute(aid) is Outcome.APPLIED
    action = desk(own_ledger, systems).revoke(BOB, aid, "wrong customer")
    assert action.status is Status.REVOKED
    names = event_names(own_ledger, aid)
    assert names[-2:] == ["Revoked", "CompensationProposed"]


def _edit_out_of_band(systems: Connectors, settings: Settings, ref: ResourceRef) -> None:
    if ref.system == "billing":
        sor = systems["billing"]
        assert isinstance(sor, PostgresSystemOfRecord)
        sor.edit_out_of_band(ref, {"note": "edited by a human"})
        return
    from infra.connectors.crm_admin import CrmAdmin  # noqa: PLC0415  # only this branch needs it

    admin = CrmAdmin(settings.crm)
    try:
        admin.edit(ref, {"note": "edited by a human"})
    finally:
        admin.close()
