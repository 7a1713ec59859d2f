"""Policy decisions and the bundles that make them."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from domain.events.base import DomainEvent
from domain.events.proposals import Reason
from domain.values import Money, Name, Record, ResourceRef, Values


class DecisionOutcome(StrEnum):
    """The three outcomes a policy can reach."""

    ALLOW = "allow"
    DENY = "deny"
    REQUIRE_APPROVAL = "require_approval"


class Obligations(Record):
    """What a decision requires: approvals (how many, which roles, how long) and budget."""

    approvals_required: int = Field(ge=0, le=2**31 - 1)
    approver_roles: list[str]
    approval_ttl_seconds: int | None = Field(default=None, gt=0)
    budget_reservation: Money | None = None
    extra: Values


class PolicyDecided(DomainEvent):
    """The policy bundle decided on a proposed action."""

    added_fields: ClassVar[frozenset[str]] = frozenset({"effect", "catalog_digest"})

    action_id: UUID
    agent_id: Name
    resource: ResourceRef
    outcome: DecisionOutcome
    reasons: list[Reason]
    obligations: Obligations
    bundle_digest: str
    bundle_version: str
    input_digest: str
    effect: Name | None = None
    """What the action catalog declares the action does: the executor carries out only that."""
    catalog_digest: str | None = Field(default=None, max_length=200)
    """The digest of the action catalog the effect was read from."""


class PolicyBundlePublished(DomainEvent):
    """A policy bundle was loaded or changed."""

    bundle_digest: str
    bundle_version: str
    source: str
    files: list[str]


class ShadowDecisionDiffered(DomainEvent):
    """A candidate bundle evaluated in shadow would have decided otherwise (never enforced)."""

    action_id: UUID
    agent_id: Name
    resource: ResourceRef
    active_outcome: DecisionOutcome
    active_bundle_digest: str
    shadow_outcome: DecisionOutcome
    shadow_reasons: list[Reason]
    shadow_bundle_digest: str
    shadow_bundle_version: str
    input_digest: str
