"""What the external systems actually show."""

from __future__ import annotations

from pydantic import Field

from domain.events.base import DomainEvent
from domain.values import ResourceRef, Timestamp, Values


class ExternalStateObserved(DomainEvent):
    """A resource's fields and version as an external system shows them."""

    resource: ResourceRef
    external_version: str
    fields: Values
    observed_at: Timestamp
    source: str
    change_sequence: int = Field(ge=0, le=2**63 - 1)
    deleted: bool
