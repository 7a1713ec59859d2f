"""``/agents``: the registry as operators see it, and the controls they pull on one agent.

Reads are for any approver; every control needs the role ``operator`` and a reason, and
is recorded with the operator's identity.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, TypeVar
from uuid import uuid4

from eventsourcing.persistence import IntegrityError
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from agentledger.api.auth import Callers, bearer
from agentledger.api.documented import problems
from agentledger.controls import ControlEntry, controls_of
from domain.agent import Agent
from domain.budget import BudgetPeriod
from domain.context import CommandContext
from infra.ledger.commands import Commands
from infra.ledger.ledger import Ledger

Token = Annotated[str | None, Depends(bearer)]
T = TypeVar("T")
CONFLICT_RETRIES = 10
READ = (401, 404, 413, 422, 429, 503)
WRITE = (401, 403, 404, 409, 413, 422, 429, 503)
Why = Annotated[str, Field(min_length=1, max_length=2000, description="Why (recorded).")]


class ReasonIn(BaseModel):
    """Why the control is pulled."""

    model_config = ConfigDict(extra="forbid")

    reason: Why


class ScopesIn(BaseModel):
    """The agent's new scopes, replacing the old ones."""

    model_config = ConfigDict(extra="forbid")

    scopes: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(max_length=200)
    reason: Why


class BudgetIn(BaseModel):
    """A new limit for one budget period."""

    model_config = ConfigDict(extra="forbid")

    period: BudgetPeriod = BudgetPeriod.DAY
    limit: Decimal = Field(ge=0, max_digits=18, decimal_places=4, allow_inf_nan=False)
    reason: Why


class PeriodOut(BaseModel):
    """Where one budget period stands now."""

    period: BudgetPeriod
    window: str = Field(description="`2026-12-05` for a day, `2026-12` for a month (UTC)")
    limit: Decimal | None = Field(description="`null`: no limit for this period")
    settled: Decimal
    reserved: Decimal
    available: Decimal | None


class ControlOut(BaseModel):
    """One control as recorded."""

    at: datetime
    control: str
    subject: str = Field(description="the agent's id, or `fleet`")
    by: str
    reason: str | None
    detail: str | None


class AgentOut(BaseModel):
    """An agent: who answers for it, what it may do, what it spent, and its kill switch."""

    agent_id: str
    owner: str
    scopes: list[str]
    suspended: bool
    keys: list[str] = Field(description="ids of the keys its proposals may be signed with")
    budget: list[PeriodOut]
    controls: list[ControlOut] | None = Field(
        default=None, description="every control on it, oldest first (one agent only)"
    )


def agent_out(agent: Agent, now: datetime, controls: list[ControlEntry] | None = None) -> AgentOut:
    """The agent as the API and CLI show it."""
    return AgentOut(
        agent_id=agent.agent_id, owner=agent.owner, scopes=sorted(agent.scopes),
        suspended=agent.suspended, keys=sorted(agent.keys),
        budget=[PeriodOut(period=s.period, window=s.window, limit=s.limit, settled=s.settled,
                          reserved=s.reserved, available=s.available) for s in agent.spend(now)],
        controls=None if controls is None else [control_out(c) for c in controls],
    )  # fmt: skip


def control_out(entry: ControlEntry) -> ControlOut:
    """A recorded control as the API shows it."""
    return ControlOut(at=entry.at, control=entry.control, subject=entry.subject, by=entry.by,
                      reason=entry.reason, detail=entry.detail)  # fmt: skip


def agent_controls(callers: Callers, ledger: Ledger) -> APIRouter:
    """The router: reads for any approver, controls for the role ``operator``."""
    router = APIRouter(prefix="/agents", tags=["agents"])

    def control(agent_id: str, change: Callable[[Commands], None]) -> AgentOut:
        def pull(tx: Commands) -> Agent:
            change(tx)
            return tx.agent(agent_id)

        return agent_out(retried(ledger, pull), datetime.now(UTC))

    @router.get("", response_model=list[AgentOut], responses=problems(*READ))
    def listing(token: Token) -> list[AgentOut]:
        """Every registered agent, by id."""
        callers.approver(token)
        ids = ledger.controls.agent_ids() if ledger.controls is not None else []
        with ledger.batch(context()) as tx:
            found = [tx.agent(agent_id) for agent_id in ids]
        return [agent_out(agent, datetime.now(UTC)) for agent in found]

    @router.get("/{agent_id}", response_model=AgentOut, responses=problems(*READ))
    def show(agent_id: str, token: Token) -> AgentOut:
        """One agent, with its spend per period and every control pulled on it."""
        callers.approver(token)
        with ledger.batch(context()) as tx:
            agent = tx.agent(agent_id)
        return agent_out(agent, datetime.now(UTC), controls_of(ledger, agent_id))

    @router.post("/{agent_id}/suspend", response_model=AgentOut, responses=problems(*WRITE))
    def suspend(agent_id: str, body: ReasonIn, token: Token) -> AgentOut:
        """Pull the kill switch: nothing new is authorized or started for the agent."""
        by = callers.operator(token).name
        return control(agent_id, lambda tx: tx.suspend_agent(agent_id, reason=body.reason, by=by))

    @router.post("/{agent_id}/reinstate", response_model=AgentOut, responses=problems(*WRITE))
    def reinstate(agent_id: str, body: ReasonIn, token: Token) -> AgentOut:
        """Release the kill switch: held actions start, new ones are decided again."""
        by = callers.operator(token).name
        return control(agent_id, lambda tx: tx.reinstate_agent(agent_id, reason=body.reason, by=by))

    @router.put("/{agent_id}/scopes", response_model=AgentOut, responses=problems(*WRITE))
    def scopes(agent_id: str, body: ScopesIn, token: Token) -> AgentOut:
        """Replace what the agent may do (`*`, `system:*`, `system:action_type`)."""
        by = callers.operator(token).name
        return control(agent_id, lambda tx: tx.change_scopes(
            agent_id, scopes=body.scopes, by=by, reason=body.reason))  # fmt: skip

    @router.put("/{agent_id}/budget", response_model=AgentOut, responses=problems(*WRITE))
    def budget(agent_id: str, body: BudgetIn, token: Token) -> AgentOut:
        """Set the limit of one budget period (spend and reservations stay)."""
        by = callers.operator(token).name
        return control(agent_id, lambda tx: tx.change_budget(
            agent_id, limit=body.limit, period=body.period, by=by, reason=body.reason))  # fmt: skip

    return router


def retried(ledger: Ledger, command: Callable[[Commands], T]) -> T:
    """``command`` in one batch, run again while it conflicts with a concurrent writer.

    A runaway agent's aggregate is written by every decision that reserves budget: the
    control that stops it must not fail for that.
    """
    for _ in range(CONFLICT_RETRIES - 1):
        try:
            with ledger.batch(context()) as tx:
                return command(tx)
        except IntegrityError:
            continue
    with ledger.batch(context()) as tx:
        return command(tx)


def context() -> CommandContext:
    """A fresh command context at the wall clock (the API's one clock)."""
    return CommandContext(now=datetime.now(UTC), new_id=uuid4, correlation_id=uuid4())
