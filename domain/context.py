"""What every command needs from outside: the time, ids, and the causal chain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.events.base import EventMetadata


@dataclass(frozen=True)
class CommandContext:
    """The injected clock reading, id generator and correlation of one command."""

    now: datetime
    new_id: Callable[[], UUID]
    correlation_id: UUID
    causation_id: UUID | None = None

    def metadata(self, version: int, previous_hash: str | None) -> EventMetadata:
        """Metadata for the event that will be ``version`` of its aggregate."""
        return EventMetadata(
            event_id=self.new_id(), correlation_id=self.correlation_id,
            causation_id=self.causation_id, occurred_at=self.now,
            aggregate_version=version, previous_hash=previous_hash,
        )  # fmt: skip
