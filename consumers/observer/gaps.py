"""Which changes of a feed its own sequence can justify.

A feed's sequence grows by one per change, with small gaps (a write rolled back still
used its number). A change far beyond the last one taken is not trusted: whoever wrote
it into the system of record (its superuser, a broken connector) would move the
observer's position past every genuine change still to come, and the actual view would
keep it over them. So it is held and flagged, never observed, until the feed grows
within reach of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.connectors.base import Change
from infra.serde.errors import BadRecord


class SequenceJump(BadRecord):
    """A change whose sequence jumps further past the last one than the feed can justify."""

    code = "sequence_jump"


@dataclass(frozen=True)
class Justified:
    """The changes to observe, in order, and the first one held back (if any)."""

    taken: list[Change]
    held: Change | None = None


def justified(previous: int | None, changes: list[Change], max_gap: int) -> Justified:
    """The changes after ``previous`` (``None``: nothing taken yet) up to the first jump.

    Each change may follow the one before it by at most ``max_gap``. The first one read
    from a feed has nothing to be compared with, so it is taken.
    """
    taken: list[Change] = []
    for change in changes:
        if previous is not None and change.sequence - previous > max_gap:
            return Justified(taken, change)
        taken.append(change)
        previous = change.sequence
    return Justified(taken)


def jump_reason(source: str, previous: int, change: Change, max_gap: int) -> str:
    """Why ``change`` is held, and what releases it."""
    return (
        f"change {change.sequence} of the {source} feed follows {previous}: a jump of"
        f" {change.sequence - previous}, more than AGENTLEDGER_OBSERVER_MAX_SEQUENCE_GAP"
        f" ({max_gap}) allows. It is held, not observed: changes before it are still taken."
        " If the system of record really skipped that far, raise the setting."
    )
