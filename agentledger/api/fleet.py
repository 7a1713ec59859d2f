"""``/fleet``: the emergency stop (operators pull and lift it; anyone signed in sees it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from agentledger.api.agents import (
    READ,
    WRITE,
    ControlOut,
    ReasonIn,
    context,
    control_out,
    retried,
)
from agentledger.api.auth import Callers, bearer
from agentledger.api.documented import problems
from agentledger.controls import controls_of, every_control
from domain.fleet import Fleet
from infra.ledger.commands import Commands
from infra.ledger.ledger import Ledger

Token = Annotated[str | None, Depends(bearer)]


class FleetOut(BaseModel):
    """Whether the emergency stop holds, since when, by whom and why."""

    stopped: bool
    since: datetime | None = None
    by: str | None = None
    reason: str | None = None


def fleet_out(fleet: Fleet | None) -> FleetOut:
    """The stop as the API shows it."""
    stop = None if fleet is None else fleet.stop
    if stop is None:
        return FleetOut(stopped=False)
    return FleetOut(stopped=True, since=stop.metadata.occurred_at, by=stop.stopped_by,
                    reason=stop.reason)  # fmt: skip


def fleet_controls(callers: Callers, ledger: Ledger) -> APIRouter:
    """The router: the stop's state for agents and approvers, the controls for operators."""
    router = APIRouter(tags=["fleet"])

    @router.get("/fleet", response_model=FleetOut, responses=problems(*READ))
    def state(token: Token) -> FleetOut:
        """Whether the emergency stop holds (agents may ask: their proposals then wait).

        An agent learns whether and since when; who pulled it and why is for approvers.
        """
        agent = callers.reader(token)
        with ledger.batch(context()) as tx:
            shown = fleet_out(tx.fleet())
        return shown if agent is None else FleetOut(stopped=shown.stopped, since=shown.since)

    @router.post("/fleet/stop", response_model=FleetOut, responses=problems(*WRITE))
    def stop(body: ReasonIn, token: Token) -> FleetOut:
        """Emergency stop: nothing new is authorized or started for any agent until resumed."""
        by = callers.operator(token).name
        return retried(
            ledger, lambda tx: _after(tx, lambda: tx.stop_all(reason=body.reason, by=by))
        )

    @router.post("/fleet/resume", response_model=FleetOut, responses=problems(*WRITE))
    def resume(body: ReasonIn, token: Token) -> FleetOut:
        """Lift the emergency stop: waiting proposals are decided, held actions start."""
        by = callers.operator(token).name
        return retried(
            ledger, lambda tx: _after(tx, lambda: tx.resume_all(reason=body.reason, by=by))
        )

    @router.get("/controls", response_model=list[ControlOut], responses=problems(*READ))
    def controls(token: Token, agent: str | None = None) -> list[ControlOut]:
        """The audit of controls (every agent's and the stop's, oldest first), or one agent's."""
        callers.approver(token)
        found = every_control(ledger) if agent is None else controls_of(ledger, agent)
        return [control_out(entry) for entry in found]

    return router


def _after(tx: Commands, control: Callable[[], bool]) -> FleetOut:
    """The stop as it stands after ``control`` (a repeated one changes nothing)."""
    control()
    return fleet_out(tx.fleet())
