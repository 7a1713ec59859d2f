"""A policy bundle as the ledger knows it: published once per distinct content."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate

from domain.context import CommandContext
from domain.events import DomainEvent, PolicyBundlePublished
from domain.ids import bundle_id
from domain.recording import RecordingAggregate


class PolicyBundle(RecordingAggregate):
    """One bundle content (id derived from its digest), published when first loaded."""

    class Created(Aggregate.Created):
        """The bundle was published (carries PolicyBundlePublished)."""

        record: PolicyBundlePublished

    class Recorded(Aggregate.Event):
        """Something happened to the bundle (carries the contract record)."""

        record: DomainEvent

        def apply(self, aggregate: Any) -> None:  # noqa: ANN401  # eventsourcing's signature
            """Evolve the bundle from the record."""
            aggregate.chain(self.record)

    def __init__(self, record: PolicyBundlePublished) -> None:
        """State of a published bundle."""
        self.digest = record.bundle_digest
        self.bundle_version = record.bundle_version
        self.last_hash = record.metadata.hash

    @classmethod
    def publish(
        cls, ctx: CommandContext, *, digest: str, version: str, source: str, files: list[str]
    ) -> PolicyBundle:
        """Publish a bundle's content."""
        return cls.start(
            ctx,
            bundle_id(digest),
            PolicyBundlePublished,
            bundle_digest=digest,
            bundle_version=version,
            source=source,
            files=files,
        )
