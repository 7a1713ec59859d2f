"""The agent registry: registration, scopes, budget, kill switch."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import ConfigDict, Field

from domain.budget import BudgetPeriod
from domain.events.base import DomainEvent
from domain.values import BYTES_AS_BASE64, Money, Name

Reason = Annotated[str, Field(min_length=1, max_length=2000)]
"""Why an operator pulled a control (recorded with who did)."""


class AgentRegistered(DomainEvent):
    """An agent was registered."""

    added_fields: ClassVar[frozenset[str]] = frozenset({"budget_period"})

    agent_id: Name
    name: str
    owner: str
    scopes: list[str]
    budget_limit: Money = Field(ge=0)
    budget_period: BudgetPeriod | None = None
    """The calendar period ``budget_limit`` caps (``None``: a day)."""


class AgentScopesChanged(DomainEvent):
    """An agent's scopes were replaced."""

    added_fields: ClassVar[frozenset[str]] = frozenset({"reason"})

    agent_id: Name
    scopes: list[str]
    changed_by: str
    reason: Reason | None = None


class AgentBudgetChanged(DomainEvent):
    """An agent's budget limit for one period changed."""

    added_fields: ClassVar[frozenset[str]] = frozenset({"period", "reason"})

    agent_id: Name
    budget_limit: Money = Field(ge=0)
    changed_by: str
    period: BudgetPeriod | None = None
    """The calendar period the limit caps (``None``: a day)."""
    reason: Reason | None = None


class AgentSuspended(DomainEvent):
    """Kill switch: nothing new is authorized for the agent."""

    agent_id: Name
    reason: str
    suspended_by: str


class AgentReinstated(DomainEvent):
    """A suspended agent may act again."""

    agent_id: Name
    reason: str
    reinstated_by: str


class AgentKeyRegistered(DomainEvent):
    """A public key was registered for an agent: proposals signed with it are the agent's."""

    model_config = ConfigDict(frozen=True, extra="forbid", **BYTES_AS_BASE64)

    agent_id: Name
    key_id: str = Field(min_length=1, max_length=200)
    public_key: bytes = Field(min_length=32, max_length=32)
    registered_by: str


class AgentKeyRevoked(DomainEvent):
    """An agent's key was revoked: nothing signed with it is accepted any more."""

    agent_id: Name
    key_id: str = Field(min_length=1, max_length=200)
    reason: str
    revoked_by: str
