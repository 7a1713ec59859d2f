"""Bookkeeping the aggregates record beside the lifecycle: budget reservations, leases."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import Field

from domain.events.base import DomainEvent
from domain.values import Money, Name, ResourceRef


class BudgetReserved(DomainEvent):
    """Budget reserved for an action at decision time."""

    agent_id: Name
    action_id: UUID
    amount: Money
    reserved_total: Money


class BudgetSettled(DomainEvent):
    """An applied action's cost counted as spent (its reservation, if any, closed)."""

    added_fields: ClassVar[frozenset[str]] = frozenset({"reservation", "reported"})

    agent_id: Name
    action_id: UUID
    amount: Money = Field(ge=0)
    """What was spent: the cost the connector reported, else the estimate."""
    reserved_total: Money
    reservation: Money | None = None
    """What had been reserved for the action (``None``: nothing was)."""
    reported: bool | None = None
    """True when the connector reported ``amount``; else it is the estimate."""


class BudgetReleased(DomainEvent):
    """A reservation returned: failure, denial, rejection, revocation or expiry."""

    agent_id: Name
    action_id: UUID
    amount: Money
    reserved_total: Money
    reason: str


class LeaseAcquired(DomainEvent):
    """An action took the resource's execution lease."""

    resource: ResourceRef
    action_id: UUID


class LeaseReleased(DomainEvent):
    """An action gave the resource's execution lease back."""

    resource: ResourceRef
    action_id: UUID
    outcome: str
