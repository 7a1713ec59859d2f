"""The envelope every event carries, and the base class of all domain events."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from domain.values import Record, Timestamp

Sha256 = str


class EventMetadata(Record):
    """Ids, causality, time, aggregate version and the hash chain of one event."""

    event_id: UUID
    correlation_id: UUID
    causation_id: UUID | None = None
    occurred_at: Timestamp
    aggregate_version: int | None = Field(default=None, ge=0)
    previous_hash: Sha256 | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    hash: Sha256 | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class DomainEvent(Record):
    """Something that happened; the class name is the Avro record name."""

    metadata: EventMetadata
