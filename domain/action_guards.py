"""The Action aggregate's invariants, one ``check_*`` guard each (DESIGN.md 1-8)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

from domain import errors
from domain.action_state import Status
from domain.events.decisions import Obligations
from domain.preconditions import describe, differences
from domain.values import Value


class ActionGuards:
    """Guards raising a named domain exception; mixed into :class:`domain.action.Action`."""

    id: UUID
    status: Status
    agent_id: str
    expires_at: datetime | None
    approvals: dict[str, str | None]
    digest: str
    preconditions: dict[str, Value]

    obligations: Obligations | None

    @property
    def approver_roles(self) -> list[str]:
        """Roles of which an approver must hold one (empty: any approver)."""
        return self.obligations.approver_roles if self.obligations else []

    def check_status(self, *allowed: Status) -> None:
        """The command applies only in ``allowed`` states."""
        if self.status not in allowed:
            wanted = " or ".join(allowed)
            raise errors.InvalidTransition(f"action {self.id} is {self.status}, not {wanted}")

    def check_may_execute(self) -> None:
        """Invariant 2: only an authorized action (or a retry of one) executes."""
        if self.status not in {Status.AUTHORIZED, Status.RETRY_PENDING}:
            raise errors.NotAuthorized(f"action {self.id} is {self.status}; it may not execute")

    def check_agent_active(self, *, agent_active: bool, stop: str | None = None) -> None:
        """Invariant 7: nothing new is authorized for a suspended agent, or under a stop."""
        if stop is not None:
            raise errors.EmergencyStop(stop)
        if not agent_active:
            raise errors.AgentSuspended(f"agent {self.agent_id} is suspended")

    def check_window_open(self, now: datetime) -> None:
        """Approvals count only before the request expires (fail closed)."""
        if self.expires_at is not None and now >= self.expires_at:
            raise errors.ApprovalWindowClosed(
                f"approval for {self.id} expired at {self.expires_at}"
            )

    def check_expiry_due(self, now: datetime) -> None:
        """Expiry applies only once the deadline has passed."""
        if self.expires_at is None or now < self.expires_at:
            raise errors.ApprovalStillOpen(
                f"approval for {self.id} is open until {self.expires_at}"
            )

    def check_not_self_approval(self, approver: str, agent_owner: str) -> None:
        """Invariant 4: neither the agent nor its owner approves its own action."""
        if approver in {self.agent_id, agent_owner}:
            raise errors.SelfApproval(f"{approver} may not approve an action of {self.agent_id}")

    def check_approver_eligible(self, roles: list[str]) -> None:
        """Invariant 4: the approver holds one of the roles the obligations name."""
        if self.approver_roles and not set(roles) & set(self.approver_roles):
            raise errors.ApproverNotEligible(f"approval needs one of roles {self.approver_roles}")

    def check_not_already_approved(self, approver: str) -> None:
        """Invariant 4: the quorum counts distinct approvers."""
        if approver in self.approvals:
            raise errors.AlreadyApproved(f"{approver} already approved {self.id}")

    def check_digest_matches(self, approved_digest: str) -> None:
        """Invariant 3: the approval is for exactly what will be done."""
        if approved_digest != self.digest:
            raise errors.StaleApproval(
                f"approval is for digest {approved_digest}, action is {self.digest}"
            )

    def check_approval_fresh(self, resource_version: str | None) -> None:
        """Invariant 3: every approval binds to the resource version its approver saw.

        One approval at a version other than the current one makes the quorum stale; an
        approval of an absent resource (version ``None``) is stale once it exists.
        """
        stale = {str(v) for v in self.approvals.values() if v != resource_version}
        if stale:
            raise errors.StaleApproval(
                f"approved at version {sorted(stale)}, resource is now {resource_version}"
            )

    def check_preconditions(self, actual: Mapping[str, Value] | None) -> None:
        """Invariant 6: the agent's beliefs still hold (``None``: actual state unknown)."""
        if actual is None:
            return
        diff = differences(self.preconditions, actual)
        if diff:
            raise errors.StalePrecondition(describe(diff))
