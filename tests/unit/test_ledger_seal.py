"""The ledger's seal: only a holder of the key can write an event every reader accepts."""

from __future__ import annotations

import os
from dataclasses import replace
from uuid import uuid4

import pytest
from eventsourcing.persistence import Notification, StoredEvent

from infra.ledger.seal import TAG_BYTES, LedgerSeal, TamperedEvent, TamperedNotification

KEY = os.urandom(32)


def _event() -> StoredEvent:
    return StoredEvent(originator_id=uuid4(), originator_version=3, topic="t:E", state=b"body")


def test_a_sealed_event_opens_to_what_was_written() -> None:
    """Closing appends the tag; opening checks it and gives back the original bytes."""
    event = _event()
    closed = LedgerSeal(KEY).close(event)
    assert len(closed.state) == len(event.state) + TAG_BYTES
    assert LedgerSeal(KEY).open(closed) == event


@pytest.mark.parametrize(
    "field", ["state", "originator_version", "originator_id", "topic"],
    ids=["bytes", "version", "aggregate", "type"],
)  # fmt: skip
def test_an_event_moved_or_changed_after_sealing_is_refused(field: str) -> None:
    """The tag binds the aggregate, the version, the event's type and its bytes."""
    closed = LedgerSeal(KEY).close(_event())
    tag = closed.state[-TAG_BYTES:]
    moved = {
        "state": replace(closed, state=b"bodY" + tag),
        "originator_version": replace(closed, originator_version=4),
        "originator_id": replace(closed, originator_id=uuid4()),
        "topic": replace(closed, topic="t:Other"),
    }[field]
    with pytest.raises(TamperedEvent, match="written or modified without the ledger's key"):
        LedgerSeal(KEY).open(moved)


def test_an_event_sealed_with_another_key_or_none_is_refused() -> None:
    """A forger's own key, or no tag at all, never passes."""
    with pytest.raises(TamperedEvent, match="does not match"):
        LedgerSeal(KEY).open(LedgerSeal(os.urandom(32)).close(_event()))
    with pytest.raises(TamperedEvent, match="carries no seal"):
        LedgerSeal(KEY).open(_event())


def test_a_tampered_notification_is_returned_with_the_reason_not_raised() -> None:
    """The relay and the audit go on past one: it is marked, named and never relayed."""
    event = _event()
    notification = Notification(id=7, **vars(event) | {"state": event.state + bytes(TAG_BYTES)})
    opened = LedgerSeal(KEY).open_notification(notification)
    assert isinstance(opened, TamperedNotification)
    assert (opened.id, opened.state) == (7, b"body")
    assert "does not match" in opened.reason
    genuine = Notification(id=8, **vars(LedgerSeal(KEY).close(event)))
    assert LedgerSeal(KEY).open_notification(genuine) == Notification(id=8, **vars(event))


def test_a_short_key_is_refused() -> None:
    """A seal key is at least 32 random bytes."""
    with pytest.raises(ValueError, match="32 bytes"):
        LedgerSeal(b"short")


def test_a_row_copied_to_another_ledgers_table_is_refused() -> None:
    """Ledgers of one deployment share the key; the tag binds the events table too."""
    closed = LedgerSeal(KEY).bound_to("a_events").close(_event())
    with pytest.raises(TamperedEvent, match="does not match"):
        LedgerSeal(KEY).bound_to("b_events").open(closed)


def test_a_row_without_an_event_type_is_refused_not_a_crash() -> None:
    """A NULL written into the type column by hand is named like any other forgery."""
    closed = LedgerSeal(KEY).close(_event())
    typeless = replace(closed, topic=None)  # type: ignore[arg-type]  # what the column can hold
    with pytest.raises(TamperedEvent, match="no event type"):
        LedgerSeal(KEY).open(typeless)
