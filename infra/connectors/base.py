"""The contract between agentledger and an external system of record.

An executor applies one :class:`Mutation` with an idempotency key and the version it
expects; an observer reads the system's change feed. A connector never decides
anything: it reports what the system did, or raises one of the errors below so the
executor can tell a final failure from one worth retrying.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from domain.values import ResourceRef, Value


class Operation(StrEnum):
    """What a mutation does to its resource."""

    UPSERT = "upsert"
    """Create the resource if absent, else set the given fields (others unchanged)."""
    DELETE = "delete"
    """Delete the resource."""


@dataclass(frozen=True)
class Mutation:
    """One change to one resource, as the executor hands it to a connector."""

    resource: ResourceRef
    operation: Operation
    fields: dict[str, Value] = field(default_factory=dict)


@dataclass(frozen=True)
class Applied:
    """The system applied the mutation (now or, for a repeated key, earlier)."""

    external_version: str
    fields: dict[str, Value]
    """The resource's fields after the change (empty after a delete)."""
    replayed: bool = False
    """True when the idempotency key had been applied before: this is the stored result."""
    cost: Decimal | None = None
    """What the call cost, where the system reports it (it is spent instead of the estimate)."""


@dataclass(frozen=True)
class Snapshot:
    """A resource as the system shows it now."""

    resource: ResourceRef
    version: str | None
    """``None`` when the resource does not exist (or was deleted)."""
    fields: dict[str, Value]


@dataclass(frozen=True)
class Change:
    """One entry of a system's change feed: the resource after one change."""

    sequence: int
    """Strictly increasing per system; ``changes(since=sequence)`` resumes after it."""
    resource: ResourceRef
    version: str
    fields: dict[str, Value]
    deleted: bool
    changed_at: datetime
    trace: str | None = None
    """The W3C ``traceparent`` of the write, when the system keeps it with the change."""


class ConnectorError(Exception):
    """Base of what a connector raises."""


class VersionConflict(ConnectorError):
    """The resource is not at the expected version: final, the action needs review."""

    def __init__(self, resource: ResourceRef, expected: str | None, actual: str | None) -> None:
        """Name the resource and both versions."""
        super().__init__(f"{resource.key} is at version {actual}, expected {expected}")
        self.expected = expected
        self.actual = actual


class MutationRefused(ConnectorError):
    """The system refused the mutation itself (invalid fields, unknown type): final."""


class ConnectorUnavailable(ConnectorError):
    """The system could not be reached or failed transiently: retry with the same key."""


class Connector(Protocol):
    """One external system of record."""

    @property
    def system(self) -> str:
        """The ``system`` part of the resource keys this connector serves."""
        ...

    def apply(
        self, mutation: Mutation, idempotency_key: str, expected_version: str | None
    ) -> Applied:
        """Apply ``mutation`` once per ``idempotency_key``; a repeat returns the stored result.

        ``expected_version`` ``None`` applies whatever the current version; otherwise a
        different current version raises :class:`VersionConflict` and changes nothing.
        """
        ...

    def current(self, resource: ResourceRef) -> Snapshot:
        """The resource as the system shows it now."""
        ...

    def changes(self, since: int, limit: int = 500) -> list[Change]:
        """Up to ``limit`` changes with a sequence above ``since``, oldest first."""
        ...

    def feed_head(self) -> int:
        """The highest sequence the feed's own counter has handed out (0: none yet)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
