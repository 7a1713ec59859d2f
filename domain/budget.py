"""An agent's spending: limits per calendar period, settled costs, and reservations in flight.

A period is a calendar day or month in UTC. Spend in a period is what was settled in it
(the executor's actual cost where the connector reported one, else the estimate); what is
reserved and not settled yet counts against every period, since it may settle in any.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID


class BudgetPeriod(StrEnum):
    """The calendar periods a budget limit applies to (UTC)."""

    DAY = "day"
    MONTH = "month"


WINDOW_FORMATS = {BudgetPeriod.DAY: "%Y-%m-%d", BudgetPeriod.MONTH: "%Y-%m"}


def window_of(period: BudgetPeriod, at: datetime) -> str:
    """The period's window that holds ``at`` (``2026-12-05`` for a day, ``2026-12`` a month)."""
    return at.astimezone(UTC).strftime(WINDOW_FORMATS[period])


@dataclass(frozen=True)
class PeriodSpend:
    """Where one period's budget stands at a moment."""

    period: BudgetPeriod
    window: str
    limit: Decimal | None
    """``None``: no limit for this period."""
    settled: Decimal
    reserved: Decimal

    @property
    def available(self) -> Decimal | None:
        """What may still be reserved in this window (``None``: unlimited)."""
        return None if self.limit is None else self.limit - self.settled - self.reserved


@dataclass
class Budget:
    """Limits by period, settled spend of the current windows, open reservations."""

    limits: dict[BudgetPeriod, Decimal] = field(default_factory=dict)
    reservations: dict[UUID, Decimal] = field(default_factory=dict)
    settled: dict[BudgetPeriod, tuple[str, Decimal]] = field(default_factory=dict)
    """Per period: the window of the last settlement and what was settled in it."""

    def __deepcopy__(self, _memo: dict[int, object]) -> Budget:
        """A copy of the containers: ids, amounts and windows are immutable, shared."""
        return Budget(dict(self.limits), dict(self.reservations), dict(self.settled))

    @property
    def reserved(self) -> Decimal:
        """The sum of open reservations."""
        return sum(self.reservations.values(), Decimal(0))

    def spend(self, at: datetime) -> list[PeriodSpend]:
        """Every period's spend, limit and reservations in the window holding ``at``."""
        reserved = self.reserved
        found = []
        for period in BudgetPeriod:
            window = window_of(period, at)
            last_window, amount = self.settled.get(period, (window, Decimal(0)))
            settled = amount if last_window == window else Decimal(0)
            found.append(PeriodSpend(period, window, self.limits.get(period), settled, reserved))
        return found

    def excess(self, amount: Decimal, at: datetime) -> str | None:
        """Why reserving ``amount`` at ``at`` would run over a limit, or ``None``.

        A period with nothing left refuses even an action that declares no cost: what it
        will cost is only known once it ran.
        """
        for spent in self.spend(at):
            if spent.available is not None and (amount > spent.available or spent.available <= 0):
                return (
                    f"its {spent.period.value} budget for {spent.window} is {spent.limit}:"
                    f" {spent.settled} settled and {spent.reserved} reserved leave"
                    f" {spent.available}, less than {amount}"
                )
        return None

    def add_settled(self, amount: Decimal, at: datetime) -> None:
        """Count ``amount`` as spent in every period's window holding ``at``.

        A settlement dated in a window older than the newest one counted (two executors
        around midnight) belongs to a period that is over: it leaves the current one as is.
        """
        for spent in self.spend(at):
            newest = self.settled.get(spent.period)
            if newest is not None and newest[0] > spent.window:
                continue
            self.settled[spent.period] = (spent.window, spent.settled + amount)
