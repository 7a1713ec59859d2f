"""A change numbered beyond what its feed's own counter handed out is held, not observed."""

from __future__ import annotations

from datetime import UTC, datetime

from consumers.observer.gaps import jump_reason, justified
from domain.values import ResourceRef
from infra.connectors.base import Change

REF = ResourceRef(system="billing", type="invoice", id="1")


def _change(sequence: int) -> Change:
    return Change(sequence, REF, "1", {}, False, datetime.now(UTC))  # noqa: FBT003  # not deleted


def test_changes_the_feed_handed_out_are_all_taken_gaps_and_all() -> None:
    """Gaps (writes rolled back) are ordinary: every number up to the counter is the feed's."""
    found = justified([_change(11), _change(14), _change(5000)], head=5000)
    assert [c.sequence for c in found.taken] == [11, 14, 5000]
    assert found.held is None


def test_the_first_change_beyond_the_counter_is_held_and_nothing_after_it_is_taken() -> None:
    """The observer's position must not pass it: genuine changes to come are numbered below."""
    found = justified([_change(11), _change(5000), _change(5001)], head=12)
    assert [c.sequence for c in found.taken] == [11]
    assert found.held is not None
    assert found.held.sequence == 5000  # the forged change


def test_a_first_read_gets_no_exemption() -> None:
    """Even before anything was taken, a change beyond the counter is held."""
    found = justified([_change(10**12)], head=40)
    assert found.taken == []
    assert found.held is not None
    assert found.held.sequence == 10**12


def test_the_reason_names_the_change_and_the_counter() -> None:
    """An operator reads what was held and why."""
    reason = jump_reason("billing", _change(5000), 12)
    assert "change 5000 of the billing feed is numbered beyond the 12" in reason
