"""Where an action is in its lifecycle, and how each record moves it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from domain.dispatching import recordmethod
from domain.events import (
    ApprovalExpired,
    ApprovalRejected,
    ApprovalRequested,
    Approved,
    Authorized,
    DomainEvent,
    ExecutionDeferred,
    ExecutionStarted,
    MutationApplied,
    MutationFailed,
    PolicyDecided,
    Revoked,
)  # fmt: skip
from domain.events.decisions import DecisionOutcome, Obligations


class Status(StrEnum):
    """Where an action is in its lifecycle."""

    PROPOSED = "proposed"
    DENIED = "denied"
    AWAITING_APPROVAL = "awaiting_approval"
    AUTHORIZED = "authorized"
    APPROVAL_REJECTED = "approval_rejected"
    APPROVAL_EXPIRED = "approval_expired"
    REVOKED = "revoked"
    EXECUTING = "executing"
    RETRY_PENDING = "retry_pending"
    APPLIED = "applied"
    FAILED = "failed"


class ActionEvolution:
    """``when(record)``: the state change each record makes; mixed into Action."""

    status: Status
    obligations: Obligations | None
    expires_at: datetime | None
    expected_version: str | None
    approvals: dict[str, str | None]
    attempt: int
    revoked_after_execution: bool
    effect: str | None
    held: bool

    @recordmethod
    def when(self, record: DomainEvent) -> None:
        """Records without effect on the action's state."""

    @when.register
    def _(self, record: PolicyDecided) -> None:
        self.obligations = record.obligations
        self.effect = record.effect
        if record.outcome is DecisionOutcome.DENY:
            self.status = Status.DENIED

    @when.register
    def _(self, record: ApprovalRequested) -> None:
        self.held = False
        self.status = Status.AWAITING_APPROVAL
        self.expires_at = record.expires_at
        self.expected_version = record.resource_version
        self.approvals = {}

    @when.register
    def _(self, record: Approved) -> None:
        self.approvals[record.approver] = record.resource_version

    @when.register
    def _(self, record: Authorized) -> None:
        self.status = Status.AUTHORIZED
        self.expected_version = record.expected_version

    @when.register
    def _(self, _: ApprovalRejected) -> None:
        self.status = Status.APPROVAL_REJECTED

    @when.register
    def _(self, _: ApprovalExpired) -> None:
        self.status = Status.APPROVAL_EXPIRED

    @when.register
    def _(self, record: Revoked) -> None:
        self.held = False
        self.status = Status.REVOKED
        self.revoked_after_execution = record.after_execution

    @when.register
    def _(self, _: ExecutionDeferred) -> None:
        self.held = True

    @when.register
    def _(self, record: ExecutionStarted) -> None:
        self.held = False
        self.status = Status.EXECUTING
        self.attempt = record.attempt
        self.expected_version = record.expected_version

    @when.register
    def _(self, _: MutationApplied) -> None:
        self.status = Status.APPLIED

    @when.register
    def _(self, record: MutationFailed) -> None:
        self.status = Status.RETRY_PENDING if record.retryable else Status.FAILED
