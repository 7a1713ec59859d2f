"""What the observer writes: an observation per change, a feed's read proof, a change's dead letter.

Ids are derived from what they stand for, so the same change always has the same
observation id (and the same letter id), whoever observes it and however often.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import NAMESPACE_URL, uuid5

from domain.events import ChangeFeedChecked, ExternalStateObserved
from domain.events.proposals import KafkaPosition
from infra.connectors.base import Change
from infra.connectors.values import dumps
from infra.serde.deadletter import DeadLetter, dead_letter_for
from infra.serde.errors import BadRecord, ProcessingFailed


def observation_of(source: str, change: Change, observed_at: datetime) -> ExternalStateObserved:
    """The observation of one change (its id is fixed by source and sequence)."""
    event_id = uuid5(NAMESPACE_URL, f"agentledger:observation:{source}:{change.sequence}")
    return ExternalStateObserved.model_validate({
        "metadata": {"event_id": event_id, "correlation_id": event_id, "occurred_at": observed_at},
        "resource": change.resource, "external_version": change.version, "fields": change.fields,
        "observed_at": observed_at, "source": source, "change_sequence": change.sequence,
        "deleted": change.deleted,
    })  # fmt: skip


def feed_read(source: str, sequence: int, read_at: datetime, partition: int) -> ChangeFeedChecked:
    """The liveness proof of one feed read, for one partition (its id is fixed by all four)."""
    at_ms = int(read_at.timestamp() * 1000)
    event_id = uuid5(
        NAMESPACE_URL, f"agentledger:feed-read:{source}:{sequence}:{at_ms}:{partition}"
    )
    return ChangeFeedChecked.model_validate({
        "metadata": {"event_id": event_id, "correlation_id": event_id, "occurred_at": read_at},
        "source": source, "sequence": sequence, "read_at": read_at,
    })  # fmt: skip


def change_letter(
    source: str, change: Change, error: Exception, clock: Callable[[], datetime]
) -> DeadLetter:
    """The dead letter of a change that is not observed: the change as JSON, and why."""
    reason = f"{type(error).__name__}: {error}"[:2000]
    payload = dumps({
        "sequence": change.sequence, "resource": change.resource.key,
        "version": change.version, "fields": change.fields, "deleted": change.deleted,
        "changed_at": change.changed_at.isoformat(),
    }).encode()  # fmt: skip
    where = f"observer:{source}:{change.sequence}"
    return dead_letter_for(
        error if isinstance(error, BadRecord) else ProcessingFailed(reason),
        origin=KafkaPosition(topic=f"feed:{source}", partition=0, offset=change.sequence),
        key=change.resource.key.encode(), payload=payload, headers={}, consumer="observer",
        clock=clock, new_id=lambda: uuid5(NAMESPACE_URL, where),
    )  # fmt: skip
