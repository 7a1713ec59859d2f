"""The controls operators pull, as ledger commands: kill switch, scopes, budget, keys, stop.

Mixed into :class:`infra.ledger.commands.Commands`. A command that authorizes or starts
an action relies on the controls it read (:meth:`ControlCommands.controls`): one recorded
before the batch saves refuses the save, so none is ever overtaken.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING
from uuid import UUID

from domain.action import Action
from domain.agent import Agent
from domain.budget import BudgetPeriod
from domain.context import CommandContext
from domain.fleet import Fleet, describe_stop
from domain.holds import Hold
from domain.ids import FLEET_ID
from infra.ledger.control_index import FLEET_SUBJECT, agent_subject
from infra.ledger.unit_of_work import UnitOfWork


class ControlCommands:
    """Commands on agents' controls and the fleet's emergency stop."""

    uow: UnitOfWork
    ctx: CommandContext

    if TYPE_CHECKING:  # Commands' own, declared for the type checker only

        def agent(self, agent_id: str) -> Agent:
            """The registered agent, or UnknownAgent."""

        def action(self, aid: UUID) -> Action:
            """The action, or LookupError."""

    def register_key(self, agent_id: str, *, public_key: bytes, by: str) -> str:
        """Register an Ed25519 public key for the agent; returns its key id."""
        return self.agent(agent_id).register_key(self.ctx, public_key=public_key, by=by)

    def revoke_key(self, agent_id: str, *, key: str, reason: str, by: str) -> None:
        """Revoke one of the agent's keys."""
        self.agent(agent_id).revoke_key(self.ctx, key=key, reason=reason, by=by)

    def controls(self, agent: Agent) -> str | None:
        """The emergency stop in force (``None``: none), relying on it and the kill switch.

        The batch is refused if either changes before it is saved (see ``UnitOfWork``).
        """
        self.uow.rely_on_controls(agent_subject(agent.agent_id), agent.id)
        return self.stop_in_force()

    def hold_for(self, agent_id: str) -> Hold | None:
        """What keeps the agent's authorized actions from starting now, if anything."""
        agent = self.agent(agent_id)
        stop = self.controls(agent)
        if stop is not None:  # the record goes to the agent's timeline: no operator named
            return Hold("emergency_stop", "the emergency stop holds")
        if agent.suspended:
            return Hold("agent_suspended", f"agent {agent_id} is suspended")
        return None

    def hold(self, aid: UUID, hold: Hold) -> bool:
        """Record that the action waits for ``hold`` to lift (once); False if it already did."""
        return self.action(aid).hold(self.ctx, cause=hold.cause, detail=hold.detail)

    def stop_all(self, *, reason: str, by: str) -> bool:
        """Pull the fleet-wide emergency stop; False if it already holds."""
        fleet = self.uow.get(Fleet, FLEET_ID)
        if fleet is None:
            self.uow.add(Fleet.first_stop(self.ctx, reason=reason, by=by))
            return True
        return fleet.stop_all(self.ctx, reason=reason, by=by)

    def resume_all(self, *, reason: str, by: str) -> bool:
        """Lift the emergency stop; False if none holds."""
        fleet = self.uow.get(Fleet, FLEET_ID)
        return fleet is not None and fleet.resume_all(self.ctx, reason=reason, by=by)

    def fleet(self) -> Fleet | None:
        """The fleet (``None``: never stopped)."""
        return self.uow.get(Fleet, FLEET_ID)

    def stop_in_force(self) -> str | None:
        """The emergency stop in force, relied on (a stop recorded meanwhile refuses the save)."""
        fleet = self.fleet()
        self.uow.rely_on_controls(FLEET_SUBJECT, FLEET_ID)
        return None if fleet is None or fleet.stop is None else describe_stop(fleet.stop)

    def suspend_agent(self, agent_id: str, *, reason: str, by: str) -> None:
        """Pull an agent's kill switch."""
        self.agent(agent_id).suspend(self.ctx, reason=reason, by=by)

    def reinstate_agent(self, agent_id: str, *, reason: str, by: str) -> None:
        """Release an agent's kill switch."""
        self.agent(agent_id).reinstate(self.ctx, reason=reason, by=by)

    def change_budget(  # a control names what, for which period, who and why
        self, agent_id: str, *, limit: Decimal, by: str, period: BudgetPeriod = BudgetPeriod.DAY,
        reason: str | None = None,
    ) -> None:  # fmt: skip
        """Set the limit of one of an agent's budget periods."""
        self.agent(agent_id).change_budget(
            self.ctx, limit=limit, by=by, period=period, reason=reason
        )

    def change_scopes(
        self, agent_id: str, *, scopes: list[str], by: str, reason: str | None = None
    ) -> None:
        """Replace an agent's scopes."""
        self.agent(agent_id).change_scopes(self.ctx, scopes=scopes, by=by, reason=reason)
