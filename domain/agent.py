"""The Agent aggregate: who may act, with what scopes, within what budget; the kill switch."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from eventsourcing.domain import Aggregate

from domain import errors
from domain.agent_budget import AgentBudgeting
from domain.budget import Budget, BudgetPeriod
from domain.context import CommandContext
from domain.dispatching import recordmethod
from domain.events import (
    AgentBudgetChanged,
    AgentKeyRegistered,
    AgentKeyRevoked,
    AgentRegistered,
    AgentReinstated,
    AgentScopesChanged,
    AgentSuspended,
    BudgetReleased,
    BudgetReserved,
    BudgetSettled,
    DomainEvent,
)
from domain.ids import COMPENSATION_SUFFIX, agent_aggregate_id
from domain.recording import RecordingAggregate
from domain.signing import key_id, valid_public_key


class Agent(AgentBudgeting, RecordingAggregate):
    """A registered agent; invariant 7's guards live here."""

    class Created(Aggregate.Created):
        """The agent was registered (carries AgentRegistered)."""

        record: AgentRegistered

    class Recorded(Aggregate.Event):
        """Something happened to the agent (carries the contract record)."""

        record: DomainEvent

        def apply(self, aggregate: Any) -> None:  # noqa: ANN401  # eventsourcing's signature
            """Evolve the agent from the record."""
            aggregate.when(self.record)
            aggregate.chain(self.record)

    def __init__(self, record: AgentRegistered) -> None:
        """State of a freshly registered agent."""
        self.agent_id = record.agent_id
        self.owner = record.owner
        self.scopes = list(record.scopes)
        period = record.budget_period or BudgetPeriod.DAY
        self.budget = Budget(limits={period: record.budget_limit})
        self.suspended = False
        self.keys: dict[str, bytes] = {}
        """Public keys its proposals may be signed with, by key id."""
        self.revoked_keys: set[str] = set()
        self.last_hash = record.metadata.hash

    @classmethod
    def register(  # noqa: PLR0913  # registration states everything about the agent
        cls,
        ctx: CommandContext,
        *,
        agent_id: str,
        name: str,
        owner: str,
        scopes: list[str],
        budget_limit: Decimal,
        budget_period: BudgetPeriod | None = None,
    ) -> Agent:
        """Register a new agent, its budget capping one period (a day unless said)."""
        return cls.start(
            ctx,
            agent_aggregate_id(agent_id),
            AgentRegistered,
            agent_id=agent_id,
            name=name,
            owner=owner,
            scopes=scopes,
            budget_limit=budget_limit,
            budget_period=None if budget_period is BudgetPeriod.DAY else budget_period,
        )

    @property
    def active(self) -> bool:
        """False while the kill switch is on."""
        return not self.suspended

    def may(self, system: str, action_type: str) -> bool:
        """True if ``*``, ``system:*`` or ``system:action_type`` is among the scopes.

        The compensation of an action type (``<type>.compensate``) is covered by the scope
        of the type itself: undoing what an agent did is within what it may do.
        """
        base = action_type.removesuffix(COMPENSATION_SUFFIX)
        return bool({"*", f"{system}:*", f"{system}:{base}"} & set(self.scopes))

    def change_scopes(
        self, ctx: CommandContext, *, scopes: list[str], by: str, reason: str | None = None
    ) -> None:
        """Replace the agent's scopes."""
        self.record(
            ctx, AgentScopesChanged, agent_id=self.agent_id, scopes=scopes, changed_by=by,
            reason=reason,
        )  # fmt: skip

    def change_budget(  # a control names what, for which period, who and why
        self, ctx: CommandContext, *, limit: Decimal, by: str,
        period: BudgetPeriod = BudgetPeriod.DAY, reason: str | None = None,
    ) -> None:  # fmt: skip
        """Set the limit of one period (open reservations and settled spend stay)."""
        self.record(
            ctx, AgentBudgetChanged, agent_id=self.agent_id, budget_limit=limit, changed_by=by,
            period=None if period is BudgetPeriod.DAY else period, reason=reason,
        )  # fmt: skip

    def register_key(self, ctx: CommandContext, *, public_key: bytes, by: str) -> str:
        """Accept proposals signed with ``public_key`` (no-op if it is registered); its id."""
        if not valid_public_key(public_key):
            raise errors.InvalidKey(f"not a usable Ed25519 public key for agent {self.agent_id}")
        kid = key_id(public_key)
        if kid in self.revoked_keys:
            raise errors.KeyRevoked(f"key {kid} of agent {self.agent_id} was revoked")
        if kid not in self.keys:
            self.record(
                ctx, AgentKeyRegistered, agent_id=self.agent_id, key_id=kid,
                public_key=public_key, registered_by=by,
            )  # fmt: skip
        return kid

    def revoke_key(self, ctx: CommandContext, *, key: str, reason: str, by: str) -> None:
        """Accept nothing more signed with key ``key``."""
        if key not in self.keys:
            raise errors.UnknownKey(f"agent {self.agent_id} has no active key {key!r}")
        self.record(
            ctx, AgentKeyRevoked, agent_id=self.agent_id, key_id=key, reason=reason, revoked_by=by
        )

    def suspend(self, ctx: CommandContext, *, reason: str, by: str) -> None:
        """Pull the kill switch."""
        self.record(ctx, AgentSuspended, agent_id=self.agent_id, reason=reason, suspended_by=by)

    def reinstate(self, ctx: CommandContext, *, reason: str, by: str) -> None:
        """Release the kill switch."""
        self.record(ctx, AgentReinstated, agent_id=self.agent_id, reason=reason, reinstated_by=by)

    def check_active(self) -> None:
        """Invariant 7: nothing new for a suspended agent."""
        if self.suspended:
            raise errors.AgentSuspended(f"agent {self.agent_id} is suspended")

    @recordmethod
    def when(self, record: DomainEvent) -> None:
        """Records without effect on the agent's state."""

    @when.register
    def _(self, record: AgentScopesChanged) -> None:
        self.scopes = list(record.scopes)

    @when.register
    def _(self, record: AgentBudgetChanged) -> None:
        self.budget.limits[record.period or BudgetPeriod.DAY] = record.budget_limit

    @when.register
    def _(self, record: AgentKeyRegistered) -> None:
        self.keys[record.key_id] = record.public_key

    @when.register
    def _(self, record: AgentKeyRevoked) -> None:
        self.keys.pop(record.key_id, None)
        self.revoked_keys.add(record.key_id)

    @when.register
    def _(self, _: AgentSuspended) -> None:
        self.suspended = True

    @when.register
    def _(self, _: AgentReinstated) -> None:
        self.suspended = False

    @when.register
    def _(self, record: BudgetReserved) -> None:
        self.budget.reservations[record.action_id] = record.amount

    @when.register
    def _(self, record: BudgetSettled) -> None:
        self.budget.reservations.pop(record.action_id, None)
        self.budget.add_settled(record.amount, record.metadata.occurred_at)

    @when.register
    def _(self, record: BudgetReleased) -> None:
        self.budget.reservations.pop(record.action_id, None)
