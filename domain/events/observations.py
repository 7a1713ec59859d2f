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


class ChangeFeedChecked(DomainEvent):
    """An observer read a system's change feed up to ``sequence`` at ``read_at``.

    Every change committed before ``read_at`` was observed by then: a resource with no
    newer observation did not change. Sent to every partition, it is the reconciler's
    proof that the observer is alive (``observer_stale`` when it stops coming).
    """

    source: str
    sequence: int = Field(ge=0, le=2**63 - 1)
    read_at: Timestamp
