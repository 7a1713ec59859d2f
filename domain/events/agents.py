"""The agent registry: registration, scopes, budget, kill switch."""

from __future__ import annotations

from domain.events.base import DomainEvent
from domain.values import Money, Name


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
