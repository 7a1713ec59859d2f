"""What the HTTP API accepts and returns."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.values import Name, Values

_PART = r"[^/\s\x00-\x1f\x7f]{1,200}"
RESOURCE_KEY = f"^{_PART}/{_PART}/{_PART}$"
"""A resource key: three names (no slash, space or control character) joined by slashes."""

ApprovalState = Literal["pending", "approved", "rejected", "expired", "revoked"]


class SignatureIn(BaseModel):
    """The agent's own Ed25519 signature over the proposal's signing input."""

    model_config = ConfigDict(extra="forbid")

    key_id: str = Field(
        min_length=1, max_length=200, pattern=r"^ed25519:[0-9a-f]{32}$",
        description="The key's id: `ed25519:` and 32 hex digits of the sha256 of the raw key.",
    )  # fmt: skip
    value: str = Field(
        pattern=r"^[A-Za-z0-9+/]{86}==$", description="The 64-byte signature, base64."
    )


class ProposalIn(BaseModel):
    """A proposal from an agent; the agent is the one its token names."""

    model_config = ConfigDict(extra="forbid")

    resource: str = Field(
        description="system/type/id", examples=["crm/contact/42"], pattern=RESOURCE_KEY
    )
    action_type: Name = Field(examples=["contact.update"])
    idempotency_key: str = Field(min_length=1, max_length=200)
    parameters: Values = Field(default_factory=dict)
    preconditions: Values = Field(default_factory=dict)
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    estimated_cost: Decimal | None = Field(
        default=None, ge=0, max_digits=18, decimal_places=4, allow_inf_nan=False
    )
    plan_id: str | None = Field(default=None, max_length=200)
    rationale: str | None = Field(default=None, max_length=4000)
    signature: SignatureIn | None = Field(
        default=None,
        description="Optional: the agent's own signature (schemas/README.md). The decider"
        " rejects the proposal as `unauthenticated` if it does not verify.",
    )


class ProposalAccepted(BaseModel):
    """The proposal is on ``proposals.v1``; its decision will follow."""

    action_id: UUID
    status_url: str


class DecisionOut(BaseModel):
    """The ledger's answer to a proposal: a policy decision, or ``rejected`` before one."""

    action_id: UUID
    agent_id: str | None
    outcome: str = Field(description="allow, deny, require_approval or rejected")
    reasons: list[dict[str, Any]]
    obligations: dict[str, Any] | None = None
    bundle_digest: str | None = None
    bundle_version: str | None = None
    input_digest: str | None = None
    existing_action_id: UUID | None = Field(
        default=None, description="For a repeated idempotency key: the action it opened first."
    )
    decided_at: datetime


class ApproveIn(BaseModel):
    """An approval, bound to what the approver saw."""

    model_config = ConfigDict(extra="forbid")

    action_digest: str | None = Field(
        default=None, description="Digest shown with the request; default: the request's."
    )
    resource_version: str | None = Field(
        default=None, description="Version the approver saw; default: the system's current."
    )
    comment: str | None = Field(default=None, max_length=2000)


class ReasonIn(BaseModel):
    """A rejection or revocation, with its reason."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class ActionOut(BaseModel):
    """An action's state and its timeline."""

    action_id: UUID
    agent_id: str
    resource: str
    action_type: str
    status: str
    action_digest: str
    parameters: dict[str, Any]
    timeline: list[dict[str, Any]]


class ApprovalOut(BaseModel):
    """One approval request."""

    action_id: UUID
    agent_id: str
    resource: str
    action_type: str
    parameters: dict[str, Any]
    state: ApprovalState
    approvals_required: int
    approver_roles: list[str]
    approved_by: list[str]
    action_digest: str
    resource_version: str | None
    requested_at: datetime
    expires_at: datetime
