"""Many commands, one transaction: aggregates loaded once, saved together."""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from domain.events import DomainEvent
from infra.ledger.recorder import SideWrite

A = TypeVar("A")


class UnitOfWork:
    """The aggregates touched by a batch of commands, saved atomically at the end."""

    def __init__(self, app: Application[UUID]) -> None:
        """Work against ``app``'s repository."""
        self._app = app
        self._touched: dict[UUID, Any] = {}
        self._controls_read: dict[str, UUID] = {}
        self.side_writes: list[SideWrite] = []

    def get(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate (as changed so far in this batch), or ``None`` if it does not exist."""
        if aggregate_id in self._touched:
            return self._touched[aggregate_id]  # type: ignore[no-any-return]  # stored by id
        try:
            aggregate: object = self._app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        if not isinstance(aggregate, cls):
            raise TypeError(f"{aggregate_id} is a {type(aggregate).__name__}, not a {cls.__name__}")
        self._touched[aggregate_id] = aggregate
        return aggregate

    def add(self, aggregate: Any) -> None:  # noqa: ANN401  # any aggregate
        """Track a new aggregate so it is saved with the batch."""
        self._touched[aggregate.id] = aggregate

    def preload(self, aggregate_ids: set[UUID]) -> None:
        """Load aggregates the batch will need in one query instead of one each."""
        wanted = aggregate_ids - self._touched.keys()
        self._touched.update(self._app.load_many(wanted))  # type: ignore[attr-defined]  # the Ledger

    def rely_on_controls(self, subject: str, aggregate_id: UUID) -> None:
        """Save the batch only if ``subject`` had no control beyond the aggregate as read here.

        For what a command reads and does not write (an agent's kill switch, the fleet's
        emergency stop): a control recorded meanwhile refuses the save as a conflict, and
        the batch runs again, reading it (:class:`infra.ledger.control_index.ControlIndex`).
        An aggregate not loaded in this batch counts as read at version 0.
        """
        self._controls_read[subject] = aggregate_id

    def exists(self, aggregate_id: UUID) -> bool:
        """True if the aggregate exists (stored, or added in this batch)."""
        if aggregate_id in self._touched:
            return True
        try:
            self._app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True

    def commit(self) -> int:
        """Save every pending event and side write of the batch in one transaction.

        Returns how many events were saved.
        """
        pending = [a for a in self._touched.values() if a.pending_events]
        count = sum(len(a.pending_events) for a in pending)
        writes = list(self.side_writes)
        for index in getattr(self._app, "indexes", ()):
            for aggregate in pending:
                for event in aggregate.pending_events:
                    record = getattr(event, "record", None)
                    if isinstance(record, DomainEvent):
                        writes.extend(index.side_writes(aggregate, record))
        if pending or writes:
            self._app.save(*pending, side_writes=writes, controls_seen=self._controls_seen())
        return count

    def _controls_seen(self) -> dict[str, int]:
        """Each relied-on subject's aggregate version as this batch holds it (0: none)."""
        return {
            subject: getattr(self._touched.get(aggregate_id), "version", 0)
            for subject, aggregate_id in self._controls_read.items()
        }
