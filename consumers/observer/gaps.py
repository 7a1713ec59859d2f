"""Which changes of a feed the feed itself vouches for: none beyond its own counter.

A feed hands out its sequence numbers from its own counter (a PostgreSQL sequence, the
CRM's autoincrement), in commit order. A change numbered beyond what the counter has
handed out was not written by the feed: someone put it into the change table by hand.
Observed, it would move the observer's position past every genuine change still to
come (those get the counter's next numbers, below it) and the actual view would keep it
over them. So it is held and flagged, not observed, until the counter reaches it (the
genuine write that draws that number then fails on it). Changes are read before the
counter, so every genuine change read is at or below it. A feed whose counter follows
numbers written by hand (SQLite's AUTOINCREMENT) holds nothing, but then numbers every
later change above the forged one, so none is hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.connectors.base import Change
from infra.serde.errors import BadRecord


class SequenceJump(BadRecord):
    """A change numbered beyond what its feed's own counter has handed out."""

    code = "sequence_jump"


@dataclass(frozen=True)
class Justified:
    """The changes to observe, in order, and the first one held back (if any)."""

    taken: list[Change]
    held: Change | None = None


def justified(changes: list[Change], head: int) -> Justified:
    """The changes (in sequence order) up to the first one numbered beyond ``head``."""
    for index, change in enumerate(changes):
        if change.sequence > head:
            return Justified(changes[:index], change)
    return Justified(changes)


def jump_reason(source: str, change: Change, head: int) -> str:
    """Why ``change`` is held."""
    return (
        f"change {change.sequence} of the {source} feed is numbered beyond the {head} its"
        " own counter has handed out: the feed did not write it (a row put into the change"
        " table by hand). It is held, not observed, until the counter reaches it; the feed"
        " goes on below it."
    )
