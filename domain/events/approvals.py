"""Human approvals: requested, given, refused, expired, revoked."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from domain.events.base import DomainEvent
from domain.values import ResourceRef, Timestamp


class ApprovalRequested(DomainEvent):
    """Policy requires human approval before the action may run."""

    action_id: UUID
    resource: ResourceRef
    approvals_required: int = Field(ge=1, le=2**31 - 1)
    approver_roles: list[str]
    expires_at: Timestamp
    action_digest: str
    resource_version: str | None = None


class Approved(DomainEvent):
    """An approver approved the action, bound to its digest and the version they saw."""

    action_id: UUID
    resource: ResourceRef
    approver: str
    approver_roles: list[str]
    action_digest: str
    resource_version: str | None = None
    comment: str | None = None


class ApprovalRejected(DomainEvent):
    """An approver rejected the action."""

    action_id: UUID
    resource: ResourceRef
    approver: str
    reason: str


class ApprovalExpired(DomainEvent):
    """The approval request expired before quorum: fail closed."""

    action_id: UUID
    resource: ResourceRef
    expired_at: Timestamp


class Revoked(DomainEvent):
    """Authorization was withdrawn, before or after execution."""

    action_id: UUID
    resource: ResourceRef
    revoked_by: str
    reason: str
    after_execution: bool
