"""The ledger's seal: a keyed tag on every stored event, so the database alone cannot write one.

Each record carries a sha256 chain (``metadata.hash``), which anyone can compute: the
database's superuser could append an event that links correctly, and the relay would
sign and publish it. So the writers also tag each row with HMAC-SHA256 under a key the
database never holds, over the aggregate, the version, the event's type and its bytes.
The tag is the last :data:`TAG_BYTES` of the ``state`` column; every read checks it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field, replace
from typing import TypeVar
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

TAG_BYTES = 32
PURPOSE = b"agentledger.ledger-seal.v1\0"
KEY_BYTES = 32
E = TypeVar("E", bound=StoredEvent)


class TamperedEvent(Exception):
    """A stored event whose seal does not match: written or changed without the ledger's key."""


@dataclass(frozen=True)
class TamperedNotification(Notification):
    """A notification that failed its seal (``state`` is the column without its last tag bytes)."""

    reason: str = field(default="")


class LedgerSeal:
    """Tags events before they are stored, and checks the tag of each one read back."""

    def __init__(self, key: bytes, table: str = "") -> None:
        """Seal with ``key`` (at least :data:`KEY_BYTES` random bytes, never the database's).

        The tag also binds ``table``, so a row copied to another ledger's table fails.
        """
        if len(key) < KEY_BYTES:
            raise ValueError(f"a ledger seal key needs {KEY_BYTES} bytes, got {len(key)}")
        self._key = key
        self._table = table.encode()

    def bound_to(self, table: str) -> LedgerSeal:
        """The seal with the same key for the events table ``table``."""
        return LedgerSeal(self._key, table)

    def close(self, event: E) -> E:
        """``event`` with its tag appended to its state (as it is stored)."""
        return replace(event, state=event.state + self._tag(event, event.state))

    def open(self, event: E) -> E:
        """``event`` as it was written, or :class:`TamperedEvent` naming it."""
        problem, state = self._check(event)
        if problem is not None:
            where = f"{event.originator_id} v{event.originator_version}"
            raise TamperedEvent(f"stored event of aggregate {where}: {problem}")
        return replace(event, state=state)

    def open_notification(self, notification: Notification) -> Notification:
        """``notification`` as written, or a :class:`TamperedNotification` with the reason."""
        problem, state = self._check(notification)
        if problem is None:
            return replace(notification, state=state)
        return TamperedNotification(
            originator_id=notification.originator_id,
            originator_version=notification.originator_version,
            topic=notification.topic, state=state, id=notification.id, reason=problem,
        )  # fmt: skip

    def _check(self, event: StoredEvent) -> tuple[str | None, bytes]:
        sealed = event.state
        state, tag = sealed[:-TAG_BYTES], sealed[-TAG_BYTES:]
        if not isinstance(event.topic, str):  # a NULL written by hand
            return "it has no event type: written without the ledger's key", state
        if len(sealed) <= TAG_BYTES:
            return "it carries no seal: written without the ledger's key", state
        if not hmac.compare_digest(tag, self._tag(event, state)):
            return "its seal does not match: written or modified without the ledger's key", state
        return None, state

    def _tag(self, event: StoredEvent, state: bytes) -> bytes:
        originator = event.originator_id
        aggregate = originator.bytes if isinstance(originator, UUID) else str(originator).encode()
        topic = event.topic.encode()
        message = b"".join((
            PURPOSE, len(self._table).to_bytes(4, "big"), self._table,
            len(aggregate).to_bytes(4, "big"), aggregate,
            event.originator_version.to_bytes(8, "big", signed=True),
            len(topic).to_bytes(4, "big"), topic,
            state,
        ))  # fmt: skip
        return hmac.digest(self._key, message, "sha256")
