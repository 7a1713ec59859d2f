"""The fleet: one aggregate whose state is the emergency stop (invariant 7, for every agent)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from domain import errors
from domain.context import CommandContext
from domain.dispatching import recordmethod
from domain.events import DomainEvent
from domain.events.fleet import FleetResumed, FleetStopped
from domain.ids import FLEET_ID
from domain.recording import RecordingAggregate


class Fleet(RecordingAggregate):
    """Exists from the first emergency stop on; stopped until resumed."""

    class Created(Aggregate.Created):
        """The first emergency stop (carries FleetStopped)."""

        record: FleetStopped

    class Recorded(Aggregate.Event):
        """A later stop or resume (carries the contract record)."""

        record: DomainEvent

        def apply(self, aggregate: Any) -> None:  # noqa: ANN401  # eventsourcing's signature
            """Evolve the fleet from the record."""
            aggregate.when(self.record)
            aggregate.chain(self.record)

    def __init__(self, record: FleetStopped) -> None:
        """Stopped, by the first stop."""
        self.stop: FleetStopped | None = record
        self.last_hash = record.metadata.hash

    @classmethod
    def first_stop(cls, ctx: CommandContext, *, reason: str, by: str) -> Fleet:
        """The fleet's first emergency stop."""
        return cls.start(ctx, FLEET_ID, FleetStopped, reason=reason, stopped_by=by)

    @property
    def stopped(self) -> bool:
        """True while the emergency stop holds."""
        return self.stop is not None

    def stop_all(self, ctx: CommandContext, *, reason: str, by: str) -> bool:
        """Pull the stop; False (nothing recorded) if it already holds."""
        if self.stop is not None:
            return False
        self.record(ctx, FleetStopped, reason=reason, stopped_by=by)
        return True

    def resume_all(self, ctx: CommandContext, *, reason: str, by: str) -> bool:
        """Lift the stop; False (nothing recorded) if none holds."""
        if self.stop is None:
            return False
        self.record(ctx, FleetResumed, reason=reason, resumed_by=by)
        return True

    def check_running(self) -> None:
        """Nothing new is authorized or started under the emergency stop."""
        if self.stop is not None:
            raise errors.EmergencyStop(describe_stop(self.stop))

    @recordmethod
    def when(self, record: DomainEvent) -> None:
        """Records without effect on the fleet's state."""

    @when.register
    def _(self, record: FleetStopped) -> None:
        self.stop = record

    @when.register
    def _(self, _: FleetResumed) -> None:
        self.stop = None


def describe_stop(stop: FleetStopped) -> str:
    """One line on a stop in force: since when, by whom, why."""
    since: datetime = stop.metadata.occurred_at
    return (
        f"the emergency stop holds since {since.isoformat()} (by {stop.stopped_by}: {stop.reason})"
    )
