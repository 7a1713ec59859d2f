"""The fleet-wide emergency stop: nothing new is authorized or started while it holds."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from domain.events.base import DomainEvent

Reason = Annotated[str, Field(min_length=1, max_length=2000)]


class FleetStopped(DomainEvent):
    """An operator pulled the emergency stop for every agent."""

    reason: Reason
    stopped_by: str


class FleetResumed(DomainEvent):
    """An operator lifted the emergency stop."""

    reason: Reason
    resumed_by: str
