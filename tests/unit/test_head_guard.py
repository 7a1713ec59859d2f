"""The head guard asks once per partition and assignment for the records faust skipped."""

from __future__ import annotations

from consumers.reconciler.heads import HeadGuard
from consumers.reconciler.step import Input


class Reader:
    """Says records 5 and 6 were skipped, and remembers what it was asked."""

    def __init__(self) -> None:
        """Nothing asked yet."""
        self.asked: list[tuple[str, int, int]] = []

    def missed(self, topic: str, partition: int, before: int) -> list[Input]:
        """Offsets 5.. ``before`` of the partition."""
        self.asked.append((topic, partition, before))
        return [Input(topic, partition, o, b"k", b"v") for o in range(5, before)]


def _at(topic: str, partition: int, offset: int) -> Input:
    return Input(topic, partition, offset, b"k", b"v")


def test_the_first_record_of_a_partition_brings_the_skipped_ones_before_it() -> None:
    """Offsets 5 and 6 come back before 7; later records of the partition ask nothing."""
    reader = Reader()
    guard = HeadGuard(reader, ["ticks"])
    assert [i.offset for i in guard.before(_at("obs", 0, 7))] == [5, 6]
    assert guard.before(_at("obs", 0, 8)) == []
    assert [i.offset for i in guard.before(_at("obs", 1, 6))] == [5]
    assert reader.asked == [("obs", 0, 7), ("obs", 1, 6)]


def test_ticks_are_never_read_again() -> None:
    """A lost tick is replaced by the next one: the ticks topic is not checked."""
    reader = Reader()
    assert HeadGuard(reader, ["ticks"]).before(_at("ticks", 0, 9)) == []
    assert reader.asked == []


def test_a_revoked_partition_is_checked_again_on_its_next_assignment() -> None:
    """After forget, the partition's next first record asks the reader again."""
    reader = Reader()
    guard = HeadGuard(reader)
    guard.before(_at("obs", 0, 5))
    guard.forget([("obs", 0)])
    guard.before(_at("obs", 0, 9))
    assert reader.asked == [("obs", 0, 5), ("obs", 0, 9)]
