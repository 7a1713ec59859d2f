"""A genuine record produced again later in its partition is refused by a live reader.

A stolen producer credential cannot forge a signature, but it can copy a signed record
and produce it again at the end of the same partition: the signature still holds. Each
record on a chained topic carries its owner's running number (the relay's notification
id, the observer's count), bound by its signed link, and numbers only grow along a
partition. So a record behind one already taken further up the partition is a replay.
A reader that reads a partition again (a rebalance, a retry) starts over from there.
"""

from __future__ import annotations

from infra.serde.errors import Unproven


class ReplayGuard:
    """Each partition's last record taken: its offset and its number."""

    def __init__(self) -> None:
        """Nothing taken yet."""
        self._last: dict[int, tuple[int, int]] = {}

    def check(self, partition: int, offset: int, number: int) -> None:
        """Take the record numbered ``number`` at ``offset``, or raise :class:`Unproven`."""
        last = self._last.get(partition)
        if last is not None and offset > last[0] and number <= last[1]:
            raise Unproven(
                f"replayed: number {number} at offset {offset} of partition {partition} comes"
                f" after number {last[1]} at offset {last[0]} (a genuine record produced again)"
            )
        self._last[partition] = (offset, number)
