"""The Action aggregate: one proposed change to one resource, through its lifecycle.

Proposed -> Decided -> (Denied | Authorized | ApprovalRequested -> Approved* -> Authorized
| ApprovalRejected | ApprovalExpired) -> ExecutionStarted -> MutationApplied | MutationFailed,
with Revoked before execution, or after it with a CompensationProposed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import errors
from domain.action_guards import ActionGuards
from domain.action_state import ActionEvolution, Status
from domain.context import CommandContext
from domain.events import (
    ActionProposed,
    ApprovalExpired,
    ApprovalRejected,
    ApprovalRequested,
    Approved,
    Authorized,
    CompensationProposed,
    DomainEvent,
    ExecutionDeferred,
    ExecutionStarted,
    MutationApplied,
    MutationFailed,
    PolicyDecided,
    Revoked,
)
from domain.events.decisions import DecisionOutcome, Obligations
from domain.events.proposals import Reason
from domain.hashing import digest
from domain.ids import COMPENSATION_SUFFIX, action_id, compensation_key
from domain.recording import RecordingAggregate
from domain.values import Value


class Action(ActionGuards, ActionEvolution, RecordingAggregate):
    """One governed change; its invariants are the ``check_*`` guards below."""

    class Created(Aggregate.Created):
        """The action came into being from a proposal (carries ActionProposed)."""

        record: ActionProposed

    class Recorded(Aggregate.Event):
        """Something happened to the action (carries the contract record)."""

        record: DomainEvent

        def apply(self, aggregate: Any) -> None:  # noqa: ANN401  # eventsourcing's signature
            """Evolve the action from the record."""
            aggregate.when(self.record)
            aggregate.chain(self.record)

    def __init__(self, record: ActionProposed) -> None:
        """State of a freshly proposed action."""
        self.agent_id = record.agent_id
        self.idempotency_key = record.idempotency_key
        self.resource = record.resource
        self.action_type = record.action_type
        self.parameters = dict(record.parameters)
        self.preconditions = dict(record.preconditions)
        self.estimated_cost = record.estimated_cost
        self.status = Status.PROPOSED
        self.digest = action_digest(record)
        self.obligations: Obligations | None = None
        self.approvals: dict[str, str | None] = {}
        self.expires_at: datetime | None = None
        self.expected_version: str | None = None
        self.attempt = 0
        self.revoked_after_execution = False
        self.effect: str | None = None
        self.held = False
        """An ExecutionDeferred is the last word on the action (it waits for the hold to lift)."""
        self.last_hash = record.metadata.hash

    @property
    def asked_for_approval(self) -> bool:
        """True once an approval was requested (its deadline is set then and never cleared)."""
        return self.expires_at is not None

    @classmethod
    def propose(cls, ctx: CommandContext, action_id: UUID, proposal: ActionProposed) -> Action:
        """Open the action for ``proposal`` (the ledger guarantees one per idempotency key)."""
        return cls.start_from(ctx, action_id, proposal)

    # ---- commands -----------------------------------------------------------------------

    def decide(  # noqa: PLR0913  # a decision records everything it was based on
        self,
        ctx: CommandContext,
        *,
        outcome: DecisionOutcome,
        reasons: list[Reason],
        obligations: Obligations,
        bundle_digest: str,
        bundle_version: str,
        input_digest: str,
        resource_version: str | None,
        agent_active: bool,
        effect: str | None = None,
        catalog_digest: str | None = None,
        stop: str | None = None,
    ) -> None:
        """Record the policy decision and its consequence (deny, authorize, ask approval).

        ``stop`` describes the emergency stop, while one holds.
        """
        self.check_status(Status.PROPOSED)
        if outcome is not DecisionOutcome.DENY:
            self.check_agent_active(agent_active=agent_active, stop=stop)
        self.record(
            ctx,
            PolicyDecided,
            action_id=self.id,
            agent_id=self.agent_id,
            resource=self.resource,
            outcome=outcome,
            reasons=reasons,
            obligations=obligations,
            bundle_digest=bundle_digest,
            bundle_version=bundle_version,
            input_digest=input_digest,
            effect=effect,
            catalog_digest=catalog_digest,
        )
        if outcome is DecisionOutcome.ALLOW:
            self._authorize(ctx, resource_version)
        elif outcome is DecisionOutcome.REQUIRE_APPROVAL:
            ttl = timedelta(seconds=obligations.approval_ttl_seconds or 3600)
            self.record(
                ctx,
                ApprovalRequested,
                action_id=self.id,
                resource=self.resource,
                approvals_required=max(1, obligations.approvals_required),
                approver_roles=obligations.approver_roles,
                expires_at=ctx.now + ttl,
                action_digest=self.digest,
                resource_version=resource_version,
            )

    def approve(  # noqa: PLR0913  # an approval binds identity, roles, digest and version
        self,
        ctx: CommandContext,
        *,
        approver: str,
        roles: list[str],
        action_digest: str,
        resource_version: str | None,
        agent_owner: str,
        agent_active: bool,
        comment: str | None = None,
        stop: str | None = None,
    ) -> None:
        """Record an approval; authorize when the quorum is reached (never under ``stop``)."""
        self.check_status(Status.AWAITING_APPROVAL)
        self.check_window_open(ctx.now)
        self.check_not_self_approval(approver, agent_owner)
        self.check_approver_eligible(roles)
        self.check_not_already_approved(approver)
        self.check_digest_matches(action_digest)
        self.record(
            ctx,
            Approved,
            action_id=self.id,
            resource=self.resource,
            approver=approver,
            approver_roles=roles,
            action_digest=action_digest,
            resource_version=resource_version,
            comment=comment,
        )
        if len(self.approvals) >= self.approvals_required:
            self.check_agent_active(agent_active=agent_active, stop=stop)
            # Invariant 3: what runs is what the approvers saw, not what the request saw
            self._authorize(ctx, resource_version)

    def reject(self, ctx: CommandContext, *, approver: str, reason: str) -> None:
        """An approver refuses; the action will never run."""
        self.check_status(Status.AWAITING_APPROVAL)
        self.record(
            ctx,
            ApprovalRejected,
            action_id=self.id,
            resource=self.resource,
            approver=approver,
            reason=reason,
        )

    def expire(self, ctx: CommandContext) -> None:
        """The approval request's deadline passed: fail closed."""
        self.check_status(Status.AWAITING_APPROVAL)
        self.check_expiry_due(ctx.now)
        self.record(
            ctx,
            ApprovalExpired,
            action_id=self.id,
            resource=self.resource,
            expired_at=self.expires_at,
        )

    def revoke(self, ctx: CommandContext, *, by: str, reason: str) -> None:
        """Withdraw authorization; after execution, propose a compensation."""
        if self.status is Status.EXECUTING:
            raise errors.ExecutionInFlight(f"action {self.id} is executing; revoke after it ends")
        allowed = {
            Status.AWAITING_APPROVAL,
            Status.AUTHORIZED,
            Status.RETRY_PENDING,
            Status.APPLIED,
        }
        self.check_status(*allowed)
        after = self.status is Status.APPLIED
        self.record(
            ctx,
            Revoked,
            action_id=self.id,
            resource=self.resource,
            revoked_by=by,
            reason=reason,
            after_execution=after,
        )
        if after:
            undo_type, undo = self._undo()
            self.record(
                ctx,
                CompensationProposed,
                action_id=action_id(self.agent_id, compensation_key(self.id)),
                agent_id=self.agent_id,
                resource=self.resource,
                compensates_action_id=self.id,
                action_type=undo_type,
                parameters=undo,
                reason=reason,
            )

    def compensation(self) -> tuple[str, dict[str, Value]] | None:
        """The action type and parameters that undo this action, once revoked after execution."""
        return self._undo() if self.revoked_after_execution else None

    def _undo(self) -> tuple[str, dict[str, Value]]:
        undo = {key: self.preconditions.get(key) for key in self.parameters}
        return f"{self.action_type}{COMPENSATION_SUFFIX}", undo

    def start_execution(
        self,
        ctx: CommandContext,
        *,
        executor: str,
        resource_version: str | None,
        actual: Mapping[str, Value] | None,
    ) -> None:
        """Record that an executor (holding the lease) is about to call out."""
        self.check_may_execute()
        self.check_approval_fresh(resource_version)
        self.check_preconditions(actual)
        self.record(
            ctx,
            ExecutionStarted,
            action_id=self.id,
            resource=self.resource,
            attempt=self.attempt + 1,
            idempotency_key=str(self.id),
            executor=executor,
            expected_version=self.expected_version or resource_version,
        )

    def hold(self, ctx: CommandContext, *, cause: str, detail: str) -> bool:
        """Record that the action waits for a kill switch or emergency stop to lift.

        Once per hold: False (nothing recorded) if the action already waits.
        """
        self.check_may_execute()
        if self.held:
            return False
        self.record(
            ctx, ExecutionDeferred, action_id=self.id, resource=self.resource, cause=cause,
            detail=detail[:2000],
        )  # fmt: skip
        return True

    def request_review(self, ctx: CommandContext, *, resource_version: str | None) -> None:
        """The approvals went stale (the resource changed): ask the approvers again.

        Invariant 3: an approval binds to the version its approver saw; once the target
        moved on, the action is back to awaiting approval, bound to the new version.
        """
        self.check_may_execute()
        ttl = self.obligations.approval_ttl_seconds if self.obligations else None
        self.record(
            ctx,
            ApprovalRequested,
            action_id=self.id,
            resource=self.resource,
            approvals_required=self.approvals_required,
            approver_roles=self.approver_roles,
            expires_at=ctx.now + timedelta(seconds=ttl or 3600),
            action_digest=self.digest,
            resource_version=resource_version,
        )

    def applied(
        self, ctx: CommandContext, *, external_version: str, fields: Mapping[str, Value],
        cost: Decimal | None = None,
    ) -> None:  # fmt: skip
        """The external system applied the change (at ``cost``, if it reported one)."""
        self.check_status(Status.EXECUTING)
        self.record(
            ctx, MutationApplied, action_id=self.id, resource=self.resource,
            attempt=self.attempt, external_version=external_version, applied_fields=dict(fields),
            cost=cost,
        )  # fmt: skip

    def failed(
        self, ctx: CommandContext, *, error: str, retryable: bool, retry_at: datetime | None = None
    ) -> None:
        """The external call failed (retryable: it may start again, same idempotency key)."""
        self.check_status(Status.EXECUTING)
        self.record(
            ctx,
            MutationFailed,
            action_id=self.id,
            resource=self.resource,
            attempt=self.attempt,
            error=error,
            retryable=retryable,
            next_attempt_at=retry_at,
        )

    # ---- derived ---------------------------------------------------------------------------

    @property
    def approvals_required(self) -> int:
        """How many distinct approvals authorize the action."""
        return max(1, self.obligations.approvals_required) if self.obligations else 1

    @property
    def reservation(self) -> Decimal | None:
        """Budget reserved for the action by its decision, if any."""
        return self.obligations.budget_reservation if self.obligations else None

    def _authorize(self, ctx: CommandContext, expected_version: str | None) -> None:
        self.record(
            ctx,
            Authorized,
            action_id=self.id,
            agent_id=self.agent_id,
            resource=self.resource,
            action_type=self.action_type,
            parameters=self.parameters,
            action_digest=self.digest,
            expected_version=expected_version,
            budget_reserved=self.reservation,
        )


def action_digest(proposal: ActionProposed) -> str:
    """sha256 of the canonical JSON of what will be done (approvals bind to it)."""
    return digest(
        {
            "agent_id": proposal.agent_id,
            "resource": proposal.resource.key,
            "action_type": proposal.action_type,
            "parameters": dict(proposal.parameters),
        }
    )
