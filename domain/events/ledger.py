"""Bookkeeping the aggregates record beside the lifecycle: budget reservations, leases."""

from __future__ import annotations

from uuid import UUID

from domain.events.base import DomainEvent
from domain.values import Money, Name, ResourceRef


class BudgetReserved(DomainEvent):
    """Budget reserved for an action at decision time."""

    agent_id: Name
    action_id: UUID
    amount: Money
    reserved_total: Money


class BudgetSettled(DomainEvent):
    """A reservation spent: the mutation was applied."""

    agent_id: Name
    action_id: UUID
    amount: Money
    reserved_total: Money


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
