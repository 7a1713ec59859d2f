"""The agent registry: registration, scopes, budget, kill switch."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from domain.events.base import DomainEvent
from domain.values import BYTES_AS_BASE64, Money, Name


class AgentRegistered(DomainEvent):
    """An agent was registered."""

    agent_id: Name
    name: str
    owner: str
    scopes: list[str]
    budget_limit: Money


class AgentScopesChanged(DomainEvent):
    """An agent's scopes were replaced."""

    agent_id: Name
    scopes: list[str]
    changed_by: str


class AgentBudgetChanged(DomainEvent):
    """An agent's budget limit changed."""

    agent_id: Name
    budget_limit: Money
    changed_by: str


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
