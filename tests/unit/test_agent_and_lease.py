"""The Agent's budget and kill switch, and the per-resource lease."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

import pytest

from domain import errors
from domain.agent import Agent
from domain.lease import ResourceLease
from domain.values import ResourceRef
from tests.domain_helpers import Clock, names

pytestmark = pytest.mark.unit


def _agent(clock: Clock, limit: str = "10") -> Agent:
    agent = Agent.register(
        clock.ctx(),
        agent_id="agent-1",
        name="A",
        owner="owner-1",
        scopes=["crm:contact:update"],
        budget_limit=Decimal(limit),
    )
    agent.collect_events()
    return agent


def test_reservations_never_exceed_the_budget() -> None:
    """Invariant 7: a reservation past the limit raises BudgetExceeded and records nothing."""
    clock = Clock()
    agent = _agent(clock)
    agent.reserve(clock.ctx(), action_id=UUID(int=1), amount=Decimal(6))
    assert names(agent) == ["BudgetReserved"]
    with pytest.raises(errors.BudgetExceeded):
        agent.reserve(clock.ctx(), action_id=UUID(int=2), amount=Decimal(5))
    assert names(agent) == []


def test_settling_and_releasing_free_the_reservation() -> None:
    """Settled (applied) reservations become spend; released ones (failed, expired) return."""
    clock = Clock()
    agent = _agent(clock)
    agent.reserve(clock.ctx(), action_id=UUID(int=1), amount=Decimal(6))
    agent.settle(clock.ctx(), action_id=UUID(int=1), reported=None, estimate=None)
    agent.reserve(clock.ctx(), action_id=UUID(int=2), amount=Decimal(4))
    agent.release(clock.ctx(), action_id=UUID(int=2), reason="expired")
    assert names(agent) == ["BudgetReserved", "BudgetSettled", "BudgetReserved", "BudgetReleased"]
    assert agent.reserved == 0
    assert agent.spend(clock.now)[0].available == Decimal(4)


def test_the_kill_switch_blocks_new_reservations_until_reinstated() -> None:
    """Invariant 7: suspended agents reserve nothing; reinstated ones can again."""
    clock = Clock()
    agent = _agent(clock)
    agent.suspend(clock.ctx(), reason="misbehaving", by="ops")
    with pytest.raises(errors.AgentSuspended):
        agent.reserve(clock.ctx(), action_id=UUID(int=1), amount=Decimal(1))
    agent.reinstate(clock.ctx(), reason="fixed", by="ops")
    agent.reserve(clock.ctx(), action_id=UUID(int=1), amount=Decimal(1))
    assert names(agent)[-1] == "BudgetReserved"


def test_a_lease_has_one_holder_at_a_time() -> None:
    """Invariant 5: a second action cannot take a held lease; after release it can."""
    clock = Clock()
    resource = ResourceRef.parse("crm/contact/42")
    lease = ResourceLease.first(clock.ctx(), resource=resource, action_id=UUID(int=1))
    with pytest.raises(errors.LeaseHeld):
        lease.acquire(clock.ctx(), action_id=UUID(int=2))
    lease.release(clock.ctx(), action_id=UUID(int=1), outcome="applied")
    lease.acquire(clock.ctx(), action_id=UUID(int=2))
    assert names(lease) == ["LeaseAcquired", "LeaseReleased", "LeaseAcquired"]
