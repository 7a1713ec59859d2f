"""Dead letters: input a consumer gave up on, kept whole with the reason."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from uuid import UUID

from domain.events.proposals import KafkaPosition
from domain.values import Record, Timestamp
from infra.serde.errors import BadRecord
from infra.telemetry.metrics import DEAD_LETTERS


class DeadLetter(Record):
    """The raw record (key, payload, headers), where it came from, and why it failed."""

    dead_letter_id: UUID
    origin: KafkaPosition
    key: bytes | None
    payload: bytes | None
    headers: dict[str, bytes]
    error_code: str
    error: str
    consumer: str
    occurred_at: Timestamp


def count_delivered(letters: Iterable[DeadLetter]) -> None:
    """Count ``letters`` once the broker has them (built is not sent: a batch is retried)."""
    for letter in letters:
        DEAD_LETTERS.labels(letter.consumer, letter.origin.topic, letter.error_code).inc()


def dead_letter_for(  # noqa: PLR0913  # a dead letter keeps everything about the record
    error: BadRecord,
    *,
    origin: KafkaPosition,
    key: bytes | None,
    payload: bytes | None,
    headers: dict[str, bytes],
    consumer: str,
    clock: Callable[[], datetime],
    new_id: Callable[[], UUID],
) -> DeadLetter:
    """The dead letter recording that ``consumer`` could not process this record."""
    return DeadLetter(
        dead_letter_id=new_id(), origin=origin, key=key, payload=payload, headers=headers,
        error_code=error.code, error=error.reason, consumer=consumer, occurred_at=clock(),
    )  # fmt: skip
