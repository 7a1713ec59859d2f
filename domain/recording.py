"""The base of agentledger's aggregates: every event carries a sealed contract record."""

from __future__ import annotations

from typing import Any, Self
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.context import CommandContext
from domain.events.base import DomainEvent
from domain.hashing import seal


class RecordingAggregate(Aggregate):
    """An aggregate whose events each carry one hash-chained contract record.

    Subclasses define ``Created`` (carrying the first record) and ``Recorded`` events,
    and ``when(record)`` to evolve state.
    """

    last_hash: str | None = None

    def when(self, record: DomainEvent) -> None:
        """Evolve state from ``record`` (overridden per aggregate)."""

    def record(
        self,
        ctx: CommandContext,
        record_type: type[DomainEvent],
        **fields: Any,  # noqa: ANN401  # the record's own fields, validated by pydantic
    ) -> DomainEvent:
        """Stamp, seal and trigger the next event, carrying ``record_type(**fields)``."""
        metadata = ctx.metadata(self.version + 1, self.last_hash)
        record = seal(record_type(metadata=metadata, **fields))
        recorded = self.Recorded  # type: ignore[attr-defined]  # each subclass defines Recorded
        self.trigger_event(recorded, record=record, timestamp=record.metadata.occurred_at)
        return record

    @classmethod
    def start(
        cls,
        ctx: CommandContext,
        aggregate_id: UUID,
        record_type: type[DomainEvent],
        **fields: Any,  # noqa: ANN401  # the record's own fields, validated by pydantic
    ) -> Self:
        """Create the aggregate; its first event carries ``record_type(**fields)``."""
        return cls._begin(aggregate_id, record_type(metadata=ctx.metadata(1, None), **fields))

    @classmethod
    def start_from(cls, ctx: CommandContext, aggregate_id: UUID, record: DomainEvent) -> Self:
        """Create the aggregate; its first event carries ``record`` under this command's metadata.

        ``record`` was validated already (e.g. a proposal read from Kafka): only its
        metadata changes, so it is not validated a second time.
        """
        restamped = record.model_copy(update={"metadata": ctx.metadata(1, None)})
        return cls._begin(aggregate_id, restamped)

    @classmethod
    def _begin(cls, aggregate_id: UUID, record: DomainEvent) -> Self:
        sealed = seal(record)
        created = cls.Created
        return cls._create(
            created, id=aggregate_id, record=sealed, timestamp=sealed.metadata.occurred_at
        )

    def chain(self, record: DomainEvent) -> None:
        """Remember ``record``'s hash as the link for the next event."""
        self.last_hash = record.metadata.hash
