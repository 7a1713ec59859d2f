"""The Agent's budget bookkeeping (invariant 7); mixed into :class:`domain.agent.Agent`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain import errors
from domain.budget import Budget, PeriodSpend
from domain.context import CommandContext
from domain.events import BudgetReleased, BudgetReserved, BudgetSettled, DomainEvent


class AgentBudgeting:
    """Reserve, settle and release an agent's budget; refuse what would run over a limit."""

    agent_id: str
    budget: Budget

    if TYPE_CHECKING:  # the aggregate's own, declared for the type checker only

        def record(
            self, ctx: CommandContext, record_type: type[DomainEvent],
            **fields: Any,  # noqa: ANN401  # the record's fields
        ) -> DomainEvent:  # fmt: skip
            """Stamp, seal and trigger the next event (RecordingAggregate)."""

        def check_active(self) -> None:
            """Refuse a suspended agent (Agent)."""

    @property
    def reserved(self) -> Decimal:
        """The sum of open reservations."""
        return self.budget.reserved

    def spend(self, at: datetime) -> list[PeriodSpend]:
        """Spend, limit and reservations of every budget period at ``at``."""
        return self.budget.spend(at)

    def reserve(self, ctx: CommandContext, *, action_id: UUID, amount: Decimal) -> None:
        """Reserve ``amount`` for an action being authorized."""
        self.check_active()
        self.check_budget(amount, ctx.now)
        total = self.reserved + amount
        self.record(
            ctx,
            BudgetReserved,
            agent_id=self.agent_id,
            action_id=action_id,
            amount=amount,
            reserved_total=total,
        )

    def settle(
        self, ctx: CommandContext, *, action_id: UUID, reported: Decimal | None,
        estimate: Decimal | None,
    ) -> None:  # fmt: skip
        """The action was applied: its cost is spent, and its reservation closed.

        The cost is what the connector ``reported``, else the reservation, else the
        ``estimate`` the agent proposed with; nothing is recorded for no cost at all.
        """
        reservation = self.budget.reservations.get(action_id)
        amount = next((a for a in (reported, reservation, estimate) if a is not None), None)
        if reservation is None and not amount:
            return
        self.record(
            ctx, BudgetSettled, agent_id=self.agent_id, action_id=action_id,
            amount=amount or Decimal(0), reserved_total=self.reserved - (reservation or 0),
            reservation=reservation, reported=True if reported is not None else None,
        )  # fmt: skip

    def release(self, ctx: CommandContext, *, action_id: UUID, reason: str) -> None:
        """The action will not run (or failed for good): return its reservation."""
        amount = self.budget.reservations.get(action_id)
        if amount is not None:
            total = self.reserved - amount
            self.record(
                ctx,
                BudgetReleased,
                agent_id=self.agent_id,
                action_id=action_id,
                amount=amount,
                reserved_total=total,
                reason=reason,
            )

    def check_budget(self, amount: Decimal, at: datetime) -> None:
        """Invariant 7: settled spend and open reservations stay within every period's limit."""
        excess = self.budget.excess(amount, at)
        if excess is not None:
            raise errors.BudgetExceeded(f"agent {self.agent_id} cannot reserve {amount}: {excess}")
