"""A relay position is followed only if it is where the relay's own records end.

The position (last notification id, chain head per partition) is written in the same
transaction as the records it covers, so a genuine one matches the topics exactly: each
chain head is the hash on the last relayed record of its partition, and every stored
notification between that record's id and the position's would not have been chained
(no contract record, or one too large, dead-lettered instead). A position written by
anyone else, or left behind by a reset, is refused with the first mismatch: following
it would skip events (an authorized action never executed) or repeat them.
"""

from __future__ import annotations

from collections.abc import Callable

from consumers.relay.position import Position
from infra.chain_tails import Tail

SHOWN = 5
"""Notification ids named in a refusal, at most."""


class PositionRefused(RuntimeError):
    """The relay's committed position does not match what it put on the topics."""


def check_position(
    position: Position, tails: dict[str, Tail], chained_between: Callable[[int, int], list[int]]
) -> None:
    """Raise :class:`PositionRefused` unless ``position`` ends where the topics' tails end.

    ``chained_between(after, upto)`` lists the stored notifications in ``(after, upto]``
    that the relay would have put on a chain.
    """
    for slot in sorted(set(position.chains) | set(tails)):
        held, tail = position.chains.get(slot), tails.get(slot)
        if tail is None:
            _refuse(f"it has a chain head for {slot}, where the topic holds no relayed record")
        elif held is None:
            _refuse(f"{slot} holds relayed records (the last, notification {tail.notification_id}"
                    f" at offset {tail.offset}) that it has no chain head for")  # fmt: skip
        elif held != tail.chain:
            _refuse(f"its chain head for {slot} is not the hash on the last relayed record there"
                    f" (notification {tail.notification_id} at offset {tail.offset})")  # fmt: skip
    last = max((tail.notification_id for tail in tails.values()), default=0)
    if position.notification_id < last:
        _refuse(f"it is at notification {position.notification_id}, behind notification {last}"
                " on the topics: following it would relay events twice")  # fmt: skip
    skipped = chained_between(last, position.notification_id)
    if skipped:
        shown = ", ".join(map(str, skipped[:SHOWN])) + (" ..." if len(skipped) > SHOWN else "")
        _refuse(f"it is at notification {position.notification_id}, but notification(s) {shown}"
                f" after the last relayed one ({last}) were never relayed: following it would"
                " skip them")  # fmt: skip


def _refuse(problem: str) -> None:
    raise PositionRefused(
        f"refusing the relay's committed position: {problem}. It was not written by this"
        " relay with its records (forged, or the topics or the store were reset); nothing is"
        " relayed until it is corrected."
    )
