"""``/fleet``: the emergency stop (operators pull and lift it; anyone signed in sees it)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from agentledger.api.agents import ControlOut, ReasonIn, context, control_out
from agentledger.api.auth import Callers, bearer
from agentledger.api.documented import problems
from agentledger.controls import controls_of, every_control
from domain.fleet import Fleet
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

    @router.get("/fleet", response_model=FleetOut, responses=problems(401, 413, 429, 503))
    def state(token: Token) -> FleetOut:
        """Whether the emergency stop holds (agents may ask: their proposals then wait)."""
        callers.reader(token)
        with ledger.batch(context()) as tx:
            return fleet_out(tx.fleet())

    @router.post("/fleet/stop", response_model=FleetOut, responses=problems(401, 403, 422, 503))
    def stop(body: ReasonIn, token: Token) -> FleetOut:
        """Emergency stop: nothing new is authorized or started for any agent until resumed."""
        by = callers.operator(token).name
        with ledger.batch(context()) as tx:
            tx.stop_all(reason=body.reason, by=by)
            return fleet_out(tx.fleet())

    @router.post("/fleet/resume", response_model=FleetOut, responses=problems(401, 403, 422, 503))
    def resume(body: ReasonIn, token: Token) -> FleetOut:
        """Lift the emergency stop: waiting proposals are decided, held actions start."""
        by = callers.operator(token).name
        with ledger.batch(context()) as tx:
            tx.resume_all(reason=body.reason, by=by)
            return fleet_out(tx.fleet())

    @router.get("/controls", response_model=list[ControlOut], responses=problems(401, 429, 503))
    def controls(token: Token, agent: str | None = None) -> list[ControlOut]:
        """The audit of controls (every agent's and the stop's, oldest first), or one agent's."""
        callers.approver(token)
        found = every_control(ledger) if agent is None else controls_of(ledger, agent)
        return [control_out(entry) for entry in found]

    return router
