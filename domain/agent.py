"""The Agent aggregate: who may act, with what scopes, within what budget; the kill switch."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import errors
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


class Agent(RecordingAggregate):
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
        self.budget_limit = record.budget_limit
        self.reservations: dict[UUID, Decimal] = {}
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
    ) -> Agent:
        """Register a new agent."""
        return cls.start(
            ctx,
            agent_aggregate_id(agent_id),
            AgentRegistered,
            agent_id=agent_id,
            name=name,
            owner=owner,
            scopes=scopes,
            budget_limit=budget_limit,
        )

    @property
    def reserved(self) -> Decimal:
        """The sum of open reservations."""
        return sum(self.reservations.values(), Decimal(0))

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

    def change_scopes(self, ctx: CommandContext, *, scopes: list[str], by: str) -> None:
        """Replace the agent's scopes."""
        self.record(ctx, AgentScopesChanged, agent_id=self.agent_id, scopes=scopes, changed_by=by)

    def change_budget(self, ctx: CommandContext, *, limit: Decimal, by: str) -> None:
        """Set a new budget limit (open reservations stay)."""
        self.record(
            ctx, AgentBudgetChanged, agent_id=self.agent_id, budget_limit=limit, changed_by=by
        )

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

    def reserve(self, ctx: CommandContext, *, action_id: UUID, amount: Decimal) -> None:
        """Reserve ``amount`` for an action being authorized."""
        self.check_active()
        self.check_budget(amount)
        total = self.reserved + amount
        self.record(
            ctx,
            BudgetReserved,
            agent_id=self.agent_id,
            action_id=action_id,
            amount=amount,
            reserved_total=total,
        )

    def settle(self, ctx: CommandContext, *, action_id: UUID) -> None:
        """The action's mutation was applied: its reservation is spent."""
        amount = self.reservations.get(action_id)
        if amount is not None:
            total = self.reserved - amount
            self.record(
                ctx,
                BudgetSettled,
                agent_id=self.agent_id,
                action_id=action_id,
                amount=amount,
                reserved_total=total,
            )

    def release(self, ctx: CommandContext, *, action_id: UUID, reason: str) -> None:
        """The action will not run (or failed for good): return its reservation."""
        amount = self.reservations.get(action_id)
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

    def check_active(self) -> None:
        """Invariant 7: nothing new for a suspended agent."""
        if self.suspended:
            raise errors.AgentSuspended(f"agent {self.agent_id} is suspended")

    def check_budget(self, amount: Decimal) -> None:
        """Invariant 7: open reservations never exceed the limit."""
        if self.reserved + amount > self.budget_limit:
            detail = f"reserving {amount} on top of {self.reserved} exceeds {self.budget_limit}"
            raise errors.BudgetExceeded(f"agent {self.agent_id}: {detail}")

    @recordmethod
    def when(self, record: DomainEvent) -> None:
        """Records without effect on the agent's state."""

    @when.register
    def _(self, record: AgentScopesChanged) -> None:
        self.scopes = list(record.scopes)

    @when.register
    def _(self, record: AgentBudgetChanged) -> None:
        self.budget_limit = record.budget_limit

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
        self.reservations[record.action_id] = record.amount

    @when.register
    def _(self, record: BudgetSettled | BudgetReleased) -> None:
        self.reservations.pop(record.action_id, None)
