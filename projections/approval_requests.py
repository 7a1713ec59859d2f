"""An approval request as a row, and how each request event changes it.

The rules of the ledger's own index (``infra/ledger/approval_index.py``):
``ApprovalRequested`` opens (or re-opens) a request with no approvals, ``Approved`` adds
its approver once, and authorization, rejection, expiry or revocation close it. Events
for an action without a request change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from domain.events import (
    ApprovalExpired,
    ApprovalRejected,
    ApprovalRequested,
    Approved,
    Authorized,
    Revoked,
)
from infra.ledger.approval_index import CLOSING

RequestEvent = (
    ApprovalRequested | Approved | Authorized | ApprovalRejected | ApprovalExpired | Revoked
)
COLUMNS = (
    "action_id", "state", "approvals_required", "approver_roles", "approved_by", "action_digest",
    "resource_version", "requested_at", "expires_at", "closed_at",
)  # fmt: skip


@dataclass(frozen=True)
class Request:
    """One approval request, its fields in the order of :data:`COLUMNS`."""

    action_id: UUID
    state: str
    approvals_required: int
    approver_roles: list[str]
    approved_by: list[str]
    action_digest: str
    resource_version: str | None
    requested_at: datetime
    expires_at: datetime
    closed_at: datetime | None


def fold(requests: dict[UUID, Request], event: RequestEvent) -> None:
    """Change ``requests`` (by action id) as the ledger's index changes its rows for ``event``."""
    held = requests.get(event.action_id)
    if isinstance(event, ApprovalRequested):
        # a re-opened request keeps its quorum, roles and digest, as the index does
        requests[event.action_id] = Request(
            event.action_id, "pending",
            held.approvals_required if held else event.approvals_required,
            held.approver_roles if held else list(event.approver_roles), [],
            held.action_digest if held else event.action_digest, event.resource_version,
            event.metadata.occurred_at, event.expires_at, None,
        )  # fmt: skip
    elif held is None:
        return
    elif isinstance(event, Approved):
        if event.approver not in held.approved_by:
            requests[held.action_id] = replace(
                held, approved_by=[*held.approved_by, event.approver]
            )
    else:
        state, at = CLOSING[type(event)], event.metadata.occurred_at
        requests[held.action_id] = replace(held, state=state, closed_at=at)
