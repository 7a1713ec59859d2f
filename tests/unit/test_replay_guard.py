"""A live reader refuses a genuine record produced again behind a newer one."""

from __future__ import annotations

import pytest

from infra.replay_guard import ReplayGuard
from infra.serde.errors import Unproven


def test_numbers_that_grow_along_the_partition_are_taken() -> None:
    """Gaps in numbers are normal (other partitions, dead letters)."""
    guard = ReplayGuard()
    for offset, number in ((10, 3), (11, 9), (12, 40)):
        guard.check(0, offset, number)


def test_a_record_behind_one_already_taken_is_a_replay() -> None:
    """The same number (or a lower one) further up the partition was produced again."""
    guard = ReplayGuard()
    guard.check(0, 10, 7)
    with pytest.raises(Unproven, match="replayed: number 7 at offset 11 of partition 0"):
        guard.check(0, 11, 7)
    with pytest.raises(Unproven, match="replayed: number 5 at offset 12"):
        guard.check(0, 12, 5)
    guard.check(0, 13, 8)  # the next genuine record is taken


def test_reading_a_partition_again_starts_over() -> None:
    """After a rebalance or a retry a reader sees the same records again: not replays."""
    guard = ReplayGuard()
    guard.check(0, 10, 7)
    guard.check(0, 11, 8)
    guard.check(0, 10, 7)
    guard.check(0, 11, 8)


def test_partitions_are_apart() -> None:
    """Each partition's numbers grow on their own."""
    guard = ReplayGuard()
    guard.check(0, 10, 70)
    guard.check(1, 3, 5)
