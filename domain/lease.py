"""The per-resource execution lease: at most one execution in flight per resource."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import errors
from domain.context import CommandContext
from domain.dispatching import recordmethod
from domain.events import DomainEvent, LeaseAcquired, LeaseReleased
from domain.ids import lease_id
from domain.recording import RecordingAggregate
from domain.values import ResourceRef


class ResourceLease(RecordingAggregate):
    """Invariant 5: the lease of one resource, held by at most one action."""

    class Created(Aggregate.Created):
        """The resource's first execution took the lease (carries LeaseAcquired)."""

        record: LeaseAcquired

    class Recorded(Aggregate.Event):
        """The lease was taken or given back (carries the contract record)."""

        record: DomainEvent

        def apply(self, aggregate: Any) -> None:  # noqa: ANN401  # eventsourcing's signature
            """Evolve the lease from the record."""
            aggregate.when(self.record)
            aggregate.chain(self.record)

    def __init__(self, record: LeaseAcquired) -> None:
        """A lease held by the action that created it."""
        self.resource = record.resource
        self.holder: UUID | None = record.action_id
        self.last_hash = record.metadata.hash

    @classmethod
    def first(cls, ctx: CommandContext, *, resource: ResourceRef, action_id: UUID) -> ResourceLease:
        """Create the resource's lease, held by ``action_id``."""
        return cls.start(
            ctx, lease_id(resource.key), LeaseAcquired, resource=resource, action_id=action_id
        )

    def acquire(self, ctx: CommandContext, *, action_id: UUID) -> None:
        """Take the lease for ``action_id`` (a no-op if it holds it already)."""
        if self.holder == action_id:
            return
        self.check_free(action_id)
        self.record(ctx, LeaseAcquired, resource=self.resource, action_id=action_id)

    def release(self, ctx: CommandContext, *, action_id: UUID, outcome: str) -> None:
        """Give the lease back, if ``action_id`` holds it."""
        if self.holder == action_id:
            self.record(
                ctx, LeaseReleased, resource=self.resource, action_id=action_id, outcome=outcome
            )

    def check_free(self, action_id: UUID) -> None:
        """Invariant 5: nobody else is executing on this resource."""
        if self.holder is not None and self.holder != action_id:
            raise errors.LeaseHeld(f"{self.resource.key} is being changed by action {self.holder}")

    @recordmethod
    def when(self, record: DomainEvent) -> None:
        """Records without effect on the lease."""

    @when.register
    def _(self, record: LeaseAcquired) -> None:
        self.holder = record.action_id

    @when.register
    def _(self, _: LeaseReleased) -> None:
        self.holder = None
