"""A change whose sequence jumps beyond what its feed can justify is held, not observed."""

from __future__ import annotations

from datetime import UTC, datetime

from consumers.observer.gaps import jump_reason, justified
from domain.values import ResourceRef
from infra.connectors.base import Change

REF = ResourceRef(system="billing", type="invoice", id="1")


def _change(sequence: int) -> Change:
    return Change(sequence, REF, "1", {}, False, datetime.now(UTC))  # noqa: FBT003  # not deleted


def test_changes_within_the_gap_are_all_taken() -> None:
    """Sequences with small gaps (writes rolled back) are ordinary."""
    found = justified(10, [_change(11), _change(14), _change(1014)], max_gap=1000)
    assert [c.sequence for c in found.taken] == [11, 14, 1014]
    assert found.held is None


def test_the_first_jump_is_held_and_nothing_after_it_is_taken() -> None:
    """The observer's position must not pass a jump: changes after it wait with it."""
    found = justified(10, [_change(11), _change(5000), _change(5001)], max_gap=1000)
    assert [c.sequence for c in found.taken] == [11]
    assert found.held is not None
    assert found.held.sequence == 5000  # the jumped change


def test_the_first_change_of_a_feed_has_nothing_to_be_compared_with() -> None:
    """With no position yet, the feed's first change is taken whatever its sequence."""
    found = justified(None, [_change(123456), _change(123457)], max_gap=1)
    assert [c.sequence for c in found.taken] == [123456, 123457]


def test_the_reason_names_the_jump_and_the_setting() -> None:
    """An operator reads what was held, by how much, and what would release it."""
    reason = jump_reason("billing", 10, _change(5000), 1000)
    assert "change 5000 of the billing feed follows 10: a jump of 4990" in reason
    assert "AGENTLEDGER_OBSERVER_MAX_SEQUENCE_GAP (1000)" in reason
