"""A proposal refused before any decision: its own one-event aggregate.

Its id comes from where the proposal came from (e.g. its Kafka position), so a
redelivered proposal cannot be rejected twice.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.context import CommandContext
from domain.events import DomainEvent, ProposalRejected
from domain.recording import RecordingAggregate


class ProposalRejection(RecordingAggregate):
    """The record that one proposal was refused, and why."""

    class Created(Aggregate.Created):
        """The rejection (carries ProposalRejected)."""

        record: ProposalRejected

    class Recorded(Aggregate.Event):
        """Never triggered: a rejection is final (defined for the recording base)."""

        record: DomainEvent

        def apply(self, aggregate: Any) -> None:  # noqa: ANN401  # eventsourcing's signature
            """Evolve the rejection from the record."""
            aggregate.chain(self.record)

    def __init__(self, record: ProposalRejected) -> None:
        """State of the rejection: the reason, and the action it refers to, if any."""
        self.reason = record.reason
        self.action_id = record.action_id
        self.last_hash = record.metadata.hash

    @classmethod
    def reject(
        cls,
        ctx: CommandContext,
        rejection_id: UUID,
        **fields: Any,  # noqa: ANN401  # ProposalRejected's fields, validated by pydantic
    ) -> ProposalRejection:
        """Record that a proposal was refused."""
        return cls.start(ctx, rejection_id, ProposalRejected, **fields)
