"""Budgets that add up: settled costs and reservations, per calendar day and month."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import pytest
from pydantic import ValidationError

from consumers.executor.executor import reported_cost
from domain import errors
from domain.agent import Agent
from domain.budget import BudgetPeriod, window_of
from domain.events import BudgetSettled, MutationApplied
from domain.values import ResourceRef
from infra.connectors.base import Applied
from tests.domain_helpers import Clock, names

pytestmark = pytest.mark.unit
DAY = 86_400


def _agent(clock: Clock, day: str = "500", month: str | None = None) -> Agent:
    agent = Agent.register(
        clock.ctx(), agent_id="bot", name="Bot", owner="alice", scopes=["*"],
        budget_limit=Decimal(day),
    )  # fmt: skip
    if month is not None:
        agent.change_budget(clock.ctx(), limit=Decimal(month), by="ops", period=BudgetPeriod.MONTH)
    agent.collect_events()
    return agent


def _spend(agent: Agent, clock: Clock, n: int, cost: str, reported: str | None = None) -> None:
    agent.reserve(clock.ctx(), action_id=UUID(int=n), amount=Decimal(cost))
    agent.settle(
        clock.ctx(), action_id=UUID(int=n), estimate=Decimal(cost),
        reported=None if reported is None else Decimal(reported),
    )  # fmt: skip


def test_settled_costs_count_so_three_actions_of_400_do_not_pass_a_budget_of_500() -> None:
    """The issue's case: the first settles, the second would run over and is refused."""
    clock = Clock()
    agent = _agent(clock)
    _spend(agent, clock, 1, "400")
    with pytest.raises(errors.BudgetExceeded, match="day budget for 2026-01-01 is 500"):
        agent.reserve(clock.ctx(), action_id=UUID(int=2), amount=Decimal(400))
    assert agent.reserved == 0
    (day, month) = agent.spend(clock.now)
    assert (day.settled, day.available, month.settled) == (Decimal(400), Decimal(100), Decimal(400))
    assert month.limit is None


def test_reservations_in_flight_and_settled_spend_add_up() -> None:
    """Open reservations count beside settled spend; at exactly the limit it still fits."""
    clock = Clock()
    agent = _agent(clock)
    _spend(agent, clock, 1, "200")
    agent.reserve(clock.ctx(), action_id=UUID(int=2), amount=Decimal(250))
    agent.reserve(clock.ctx(), action_id=UUID(int=3), amount=Decimal(50))
    with pytest.raises(errors.BudgetExceeded):
        agent.reserve(clock.ctx(), action_id=UUID(int=4), amount=Decimal("0.0001"))


def test_the_day_rolls_over_and_the_month_still_counts_every_day() -> None:
    """Spend of yesterday leaves today's limit whole, and fills the month's."""
    clock = Clock(now=datetime(2026, 1, 30, 23, 59, tzinfo=UTC))
    agent = _agent(clock, day="600", month="1000")
    _spend(agent, clock, 1, "450")
    clock.advance(120)  # 2026-01-31 00:01
    _spend(agent, clock, 2, "450")
    with pytest.raises(errors.BudgetExceeded, match=r"month budget for 2026-01 is 1000\.0000"):
        agent.reserve(clock.ctx(), action_id=UUID(int=3), amount=Decimal(101))
    clock.advance(DAY)  # February: both windows are new
    _spend(agent, clock, 3, "500")
    assert [(s.window, s.settled) for s in agent.spend(clock.now)] == [
        ("2026-02-01", Decimal(500)), ("2026-02", Decimal(500)),
    ]  # fmt: skip


def test_the_cost_the_connector_reports_is_spent_instead_of_the_estimate() -> None:
    """Reported 30 for an estimate of 10: 30 is spent, and the reservation of 10 closes."""
    clock = Clock()
    agent = _agent(clock)
    _spend(agent, clock, 1, "10", reported="30")
    settled = agent.collect_events()[-1].record  # type: ignore[attr-defined]  # Agent.Recorded
    assert isinstance(settled, BudgetSettled)
    assert (settled.amount, settled.reservation) == (Decimal(30), Decimal(10))
    assert settled.reported is True
    assert agent.spend(clock.now)[0].settled == 30
    assert agent.reserved == 0


def test_an_action_applied_without_reservation_spends_its_estimate_or_nothing() -> None:
    """No reservation: the estimate is spent; no estimate and no report: nothing recorded."""
    clock = Clock()
    agent = _agent(clock)
    agent.settle(clock.ctx(), action_id=UUID(int=1), reported=None, estimate=Decimal(7))
    agent.settle(clock.ctx(), action_id=UUID(int=2), reported=None, estimate=None)
    assert names(agent) == ["BudgetSettled"]
    assert agent.spend(clock.now)[0].settled == 7


def test_limits_and_costs_are_never_negative_or_non_finite() -> None:
    """A negative limit, settled amount or reported cost is refused by the contract."""
    clock = Clock()
    agent = _agent(clock)
    with pytest.raises(ValidationError):
        agent.change_budget(clock.ctx(), limit=Decimal(-1), by="ops")
    with pytest.raises(ValidationError):
        agent.settle(clock.ctx(), action_id=UUID(int=1), reported=Decimal(-5), estimate=None)
    for bad in (Decimal(-1), Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(ValidationError):
            MutationApplied.model_validate({
                "metadata": _metadata(clock),
                "action_id": UUID(int=1), "resource": ResourceRef.parse("crm/contact/1"),
                "attempt": 1, "external_version": "1", "applied_fields": {}, "cost": bad,
            })  # fmt: skip


def test_a_bad_cost_a_connector_reports_is_ignored_and_the_estimate_spent() -> None:
    """Negative or non-finite figures from a connector never lower what the agent spent."""
    for bad in (Decimal(-1), Decimal("NaN"), Decimal("-Infinity")):
        assert reported_cost(Applied("v2", {}, cost=bad), UUID(int=1)) is None
    assert reported_cost(Applied("v2", {}, cost=Decimal("0.5")), UUID(int=1)) == Decimal("0.5")


def _metadata(clock: Clock) -> dict[str, object]:
    return clock.ctx().metadata(1, None).model_dump()


def test_windows_are_utc_calendar_days_and_months() -> None:
    """A time in another zone falls in the UTC window."""
    late = datetime.fromisoformat("2026-03-31T22:30:00-05:00")  # 2026-04-01 03:30 UTC
    assert window_of(BudgetPeriod.DAY, late) == "2026-04-01"
    assert window_of(BudgetPeriod.MONTH, late) == "2026-04"


def test_a_period_with_nothing_left_refuses_even_an_action_that_declares_no_cost() -> None:
    """Its cost is only known once it ran (a connector may report one): nothing more starts."""
    clock = Clock()
    agent = _agent(clock, day="100")
    _spend(agent, clock, 1, "10", reported="100")
    assert agent.budget.excess(Decimal(0), clock.now) is not None
    clock.advance(DAY)
    assert agent.budget.excess(Decimal(0), clock.now) is None


def test_a_settlement_dated_in_an_earlier_window_leaves_the_current_one_as_is() -> None:
    """Two executors around midnight: the later-dated one committed first; today keeps its 30."""
    clock = Clock(now=datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC))
    agent = _agent(clock)
    before_midnight = clock.now
    clock.advance(2)  # 2026-02-01 00:00:01
    agent.budget.add_settled(Decimal(30), clock.now)
    agent.budget.add_settled(Decimal(40), before_midnight)
    assert [(s.window, s.settled) for s in agent.spend(clock.now)] == [
        ("2026-02-01", Decimal(30)), ("2026-02", Decimal(30)),
    ]  # fmt: skip


def test_a_reported_cost_is_held_at_four_places_never_rounded_down_and_a_huge_one_ignored() -> None:
    """0.00015 is 0.0002 (the record holds 4 places); beyond 14 integer digits, the estimate."""
    assert reported_cost(Applied("v", {}, cost=Decimal("0.00015")), UUID(int=1)) == Decimal(
        "0.0002"
    )
    assert reported_cost(Applied("v", {}, cost=Decimal("1E+15")), UUID(int=1)) is None
