"""Copies of aggregates (what the ledger hands out from its cache) are independent."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from domain.agent import Agent
from domain.events.decisions import DecisionOutcome
from tests.domain_helpers import Clock, decided, obligations

pytestmark = pytest.mark.unit


def _agent_with_reservations(clock: Clock, count: int) -> Agent:
    agent = Agent.register(
        clock.ctx(), agent_id="agent-1", name="A", owner="o", scopes=["crm:*", "billing:*"],
        budget_limit=Decimal(10_000),
    )  # fmt: skip
    for index in range(count):
        agent.reserve(clock.ctx(), action_id=UUID(int=index + 1), amount=Decimal("1.25"))
    agent.collect_events()
    return agent


def test_a_copied_agent_has_the_same_state_and_changes_alone() -> None:
    """Reserving on a copy changes neither the original's reservations nor its version."""
    clock = Clock()
    agent = _agent_with_reservations(clock, 30)
    clone = copy.deepcopy(agent)
    assert clone is not agent
    assert vars(clone) == vars(agent)
    assert clone.budget.reservations is not agent.budget.reservations
    assert clone.scopes is not agent.scopes
    clone.reserve(clock.ctx(), action_id=UUID(int=999), amount=Decimal(5))
    clone.scopes.append("mail:*")
    assert UUID(int=999) not in agent.budget.reservations
    assert agent.reserved == Decimal("37.50")
    assert agent.scopes == ["crm:*", "billing:*"]
    assert agent.version == clone.version - 1
    assert agent.pending_events == []


def test_a_copied_action_keeps_its_nested_parameters_apart() -> None:
    """Nested containers of an action (parameters, approvals) are copied, not shared."""
    clock = Clock()
    action = decided(
        clock, DecisionOutcome.REQUIRE_APPROVAL, obligations(approvals=1, roles=["r"]),
        parameters={"address": {"lines": ["1 Main St"], "zip": "1000"}, "amount": Decimal("9.5")},
    )  # fmt: skip
    clone = copy.deepcopy(action)
    assert vars(clone) == vars(action)
    lines: Any = clone.parameters["address"]
    lines["lines"].append("Floor 2")
    clone.approvals["someone"] = None
    assert action.parameters["address"] == {"lines": ["1 Main St"], "zip": "1000"}
    assert action.approvals == {}
