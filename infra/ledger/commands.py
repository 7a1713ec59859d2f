"""Every transition of the ledger as a command, including those spanning aggregates.

Commands run inside a :class:`UnitOfWork`; a change to several aggregates (action and
lease, action and agent budget) is saved in the same transaction or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.action import Action
from domain.action_state import Status
from domain.agent import Agent
from domain.budget import BudgetPeriod
from domain.context import CommandContext
from domain.errors import UnknownAgent
from domain.events import ActionProposed
from domain.events.decisions import DecisionOutcome, Obligations, ShadowDecisionDiffered
from domain.events.proposals import Reason
from domain.ids import action_id, agent_aggregate_id, bundle_id, lease_id
from domain.lease import ResourceLease
from domain.policy_bundle import PolicyBundle
from domain.rejection import ProposalRejection
from domain.values import Value
from infra.ledger.control_commands import ControlCommands
from infra.ledger.unit_of_work import UnitOfWork


class Commands(ControlCommands):
    """The ledger's command methods, bound to one unit of work and one context."""

    def __init__(self, uow: UnitOfWork, ctx: CommandContext, *, assume_new: bool = False) -> None:
        """Commands that record with ``ctx`` into ``uow``.

        ``assume_new`` skips the lookup before opening an action: the store's unique
        (aggregate, version) key still refuses a duplicate, and the caller then runs the
        batch again without the assumption (see :meth:`Ledger.run`).
        """
        self.uow = uow
        self.ctx = ctx
        self.assume_new = assume_new

    def using(self, ctx: CommandContext) -> Commands:
        """The same batch, recording with ``ctx`` (e.g. one proposal's correlation)."""
        return Commands(self.uow, ctx, assume_new=self.assume_new)

    def register_agent(  # noqa: PLR0913  # registration states everything about the agent
        self, *, agent_id: str, name: str, owner: str, scopes: list[str], budget_limit: Decimal,
        budget_period: BudgetPeriod = BudgetPeriod.DAY,
    ) -> Agent:  # fmt: skip
        """Register an agent (or return it if it exists)."""
        existing = self.uow.get(Agent, agent_aggregate_id(agent_id))
        if existing is not None:
            return existing
        agent = Agent.register(
            self.ctx,
            agent_id=agent_id,
            name=name,
            owner=owner,
            scopes=scopes,
            budget_limit=budget_limit,
            budget_period=budget_period,
        )
        self.uow.add(agent)
        return agent

    def find_agent(self, agent_id: str) -> Agent | None:
        """The registered agent, or ``None``."""
        return self.uow.get(Agent, agent_aggregate_id(agent_id))

    def find_lease(self, resource_key: str) -> ResourceLease | None:
        """The resource's execution lease, or ``None`` if nothing ever executed on it."""
        return self.uow.get(ResourceLease, lease_id(resource_key))

    def agent(self, agent_id: str) -> Agent:
        """The registered agent, or :class:`UnknownAgent`."""
        agent = self.uow.get(Agent, agent_aggregate_id(agent_id))
        if agent is None:
            raise UnknownAgent(f"no agent {agent_id!r} is registered")
        return agent

    def action(self, aid: UUID) -> Action:
        """The action, or ``LookupError``."""
        found = self.uow.get(Action, aid)
        if found is None:
            raise LookupError(f"no action {aid}")
        return found

    def exists(self, aggregate_id: UUID) -> bool:
        """True if the aggregate exists; always False for new ids under ``assume_new``."""
        return not self.assume_new and self.uow.exists(aggregate_id)

    def reject_proposal(self, rejection: UUID, **fields: Any) -> bool:  # noqa: ANN401  # ProposalRejected's fields
        """Record a refused proposal once per ``rejection`` id; False if it was already."""
        if self.exists(rejection):
            return False
        self.uow.add(ProposalRejection.reject(self.ctx, rejection, **fields))
        return True

    def publish_bundle(self, *, digest: str, version: str, source: str, files: list[str]) -> bool:
        """Record PolicyBundlePublished for a bundle content seen for the first time."""
        if self.uow.exists(bundle_id(digest)):
            return False
        bundle = PolicyBundle.publish(
            self.ctx, digest=digest, version=version, source=source, files=files
        )
        self.uow.add(bundle)
        return True

    def shadow_differed(self, aid: UUID, **fields: Any) -> None:  # noqa: ANN401  # the record's fields
        """Record on the action that a shadow bundle would have decided otherwise."""
        action = self.action(aid)
        action.record(
            self.ctx, ShadowDecisionDiffered, action_id=aid, agent_id=action.agent_id,
            resource=action.resource, **fields,
        )  # fmt: skip

    def propose(self, proposal: ActionProposed) -> tuple[UUID, bool]:
        """Open an action; invariant 1: a repeat returns the original, ``created`` False."""
        aid = action_id(proposal.agent_id, proposal.idempotency_key)
        if not self.assume_new and self.uow.get(Action, aid) is not None:
            return aid, False
        self.agent(proposal.agent_id)
        self.uow.add(Action.propose(self.ctx, aid, proposal))
        return aid, True

    def decide(  # noqa: PLR0913  # a decision records everything it was based on
        self,
        aid: UUID,
        *,
        outcome: DecisionOutcome,
        reasons: list[Reason],
        obligations: Obligations,
        bundle_digest: str,
        bundle_version: str,
        input_digest: str,
        resource_version: str | None = None,
        effect: str | None = None,
        catalog_digest: str | None = None,
    ) -> None:
        """Record a decision; reserve the budget it obligates unless it denies.

        ``effect`` is what the action catalog declares the action does (the executor
        carries out that, nothing else); ``catalog_digest`` the catalog it was read from.
        """
        action = self.action(aid)
        agent = self.agent(action.agent_id)
        stop = self.controls(agent)
        amount = obligations.budget_reservation
        if outcome is not DecisionOutcome.DENY and amount:
            agent.reserve(self.ctx, action_id=aid, amount=amount)
        action.decide(
            self.ctx,
            outcome=outcome,
            reasons=reasons,
            obligations=obligations,
            bundle_digest=bundle_digest,
            bundle_version=bundle_version,
            input_digest=input_digest,
            resource_version=resource_version,
            agent_active=agent.active,
            effect=effect,
            catalog_digest=catalog_digest,
            stop=stop,
        )

    def approve(  # noqa: PLR0913  # an approval binds identity, roles, digest and version
        self,
        aid: UUID,
        *,
        approver: str,
        roles: list[str],
        action_digest: str,
        resource_version: str | None,
        comment: str | None = None,
    ) -> None:
        """Record an approval (authorizing at quorum)."""
        action = self.action(aid)
        agent = self.agent(action.agent_id)
        stop = self.controls(agent)
        action.approve(
            self.ctx,
            approver=approver,
            roles=roles,
            action_digest=action_digest,
            resource_version=resource_version,
            agent_owner=agent.owner,
            agent_active=agent.active,
            comment=comment,
            stop=stop,
        )

    def reject(self, aid: UUID, *, approver: str, reason: str) -> None:
        """An approver refuses: the action ends and its reservation returns."""
        action = self.action(aid)
        action.reject(self.ctx, approver=approver, reason=reason)
        self.agent(action.agent_id).release(self.ctx, action_id=aid, reason="approval_rejected")

    def expire(self, aid: UUID) -> None:
        """The approval deadline passed: fail closed and return the reservation."""
        action = self.action(aid)
        action.expire(self.ctx)
        self.agent(action.agent_id).release(self.ctx, action_id=aid, reason="approval_expired")

    def revoke(self, aid: UUID, *, by: str, reason: str) -> None:
        """Withdraw authorization (before execution the reservation returns)."""
        action = self.action(aid)
        executed = action.status is Status.APPLIED
        action.revoke(self.ctx, by=by, reason=reason)
        if not executed:
            self.agent(action.agent_id).release(self.ctx, action_id=aid, reason="revoked")

    def start_execution(
        self,
        aid: UUID,
        *,
        executor: str,
        resource_version: str | None,
        actual: Mapping[str, Value] | None = None,
    ) -> None:
        """Take the resource's lease and record ExecutionStarted, atomically.

        Not for a suspended agent, nor under the emergency stop (:meth:`hold_for` says which).
        """
        action = self.action(aid)
        hold = self.hold_for(action.agent_id)
        if hold is not None:
            raise hold.error()
        action.start_execution(
            self.ctx, executor=executor, resource_version=resource_version, actual=actual
        )
        lease = self.uow.get(ResourceLease, lease_id(action.resource.key))
        if lease is None:
            self.uow.add(ResourceLease.first(self.ctx, resource=action.resource, action_id=aid))
        else:
            lease.acquire(self.ctx, action_id=aid)

    def request_review(self, aid: UUID, *, resource_version: str | None) -> None:
        """The approvals went stale: the action awaits approval again (its budget stays)."""
        self.action(aid).request_review(self.ctx, resource_version=resource_version)

    def applied(
        self, aid: UUID, *, external_version: str, fields: Mapping[str, Value],
        cost: Decimal | None = None,
    ) -> None:  # fmt: skip
        """The mutation was applied: release the lease, settle what it cost.

        ``cost`` is what the connector reported, if it did; else the estimate is spent.
        """
        action = self.action(aid)
        action.applied(self.ctx, external_version=external_version, fields=fields, cost=cost)
        self._release_lease(action, "applied")
        self.agent(action.agent_id).settle(
            self.ctx, action_id=aid, reported=cost, estimate=action.estimated_cost
        )

    def failed(
        self, aid: UUID, *, error: str, retryable: bool, retry_at: datetime | None = None
    ) -> None:
        """The mutation failed: release the lease; a final failure returns the budget."""
        action = self.action(aid)
        action.failed(self.ctx, error=error, retryable=retryable, retry_at=retry_at)
        self._release_lease(action, "failed")
        if not retryable:
            self.agent(action.agent_id).release(self.ctx, action_id=aid, reason="failed")

    def _release_lease(self, action: Action, outcome: str) -> None:
        lease = self.uow.get(ResourceLease, lease_id(action.resource.key))
        if lease is not None:
            lease.release(self.ctx, action_id=action.id, outcome=outcome)
