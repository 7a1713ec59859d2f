"""The reconciler's write-through store: writes visible at once, each key sent once per drain."""

from __future__ import annotations

import pytest

from consumers.reconciler.changelog import ChangelogWrites


def test_a_write_is_readable_at_once_and_lands_in_the_store() -> None:
    """The table's store holds a state as soon as it is written (the next input reads it)."""
    store: dict[bytes, bytes] = {}
    states = ChangelogWrites(store)
    states[b"crm/contact/1"] = b"{}"
    assert states[b"crm/contact/1"] == b"{}"
    assert store == {b"crm/contact/1": b"{}"}
    assert list(states) == [b"crm/contact/1"]
    assert len(states) == 1


def test_a_drain_gives_each_written_key_once_with_its_last_value() -> None:
    """Two writes of one key before a drain are one changelog record: the newest state."""
    states = ChangelogWrites({})
    states[b"a"] = b"1"
    states[b"b"] = b"2"
    states[b"a"] = b"3"
    assert states.drain() == [(b"a", b"3"), (b"b", b"2")]


def test_a_drain_empties_the_pending_writes_but_not_the_store() -> None:
    """What was drained is sent; the next drain has only what was written since."""
    states = ChangelogWrites({})
    states[b"a"] = b"1"
    states.drain()
    assert states.drain() == []
    states[b"b"] = b"2"
    assert states.drain() == [(b"b", b"2")]
    assert dict(states.items()) == {b"a": b"1", b"b": b"2"}


def test_states_restored_by_faust_are_read_but_not_sent_again() -> None:
    """A state already in the store (restored from the changelog) is not pending."""
    states = ChangelogWrites({b"restored": b"1"})
    assert states.get(b"restored") == b"1"
    assert states.drain() == []


def test_deleting_a_state_is_refused() -> None:
    """Deletion would need a tombstone on the changelog; the reconciler never deletes."""
    states = ChangelogWrites({b"a": b"1"})
    with pytest.raises(TypeError, match="never deleted"):
        del states[b"a"]
