"""The observer's hash chain over each partition of observations.v1, as the relay chains its topics.

Each observation links to the one before it in its partition and carries a running
number; the observer signs the link. A reader that follows a partition's chain and checks
the signature of its last record has checked every record before it (a rebuild does so).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from infra.chain import HASH, NOTIFICATION, PREVIOUS, link

NUMBERS_PER_MS = 4096
"""More than the observer ever numbers in a millisecond (it signs about 40 000 a second)."""


def numbers_floor(now: datetime) -> int:
    """Where a starting observer's numbers begin at the least: above every number given before.

    An aborted transaction's records are signed too, and a restart from the committed chain
    would give their numbers again: a thief who replayed one of them after the restart
    would have every reader refuse the genuine records numbered up to it. Numbers given
    until now are below ``now`` in milliseconds times :data:`NUMBERS_PER_MS`.
    """
    return int(now.timestamp() * 1000) * NUMBERS_PER_MS


@dataclass
class ObservationChain:
    """Each partition's chain head, and the last number given (numbers only grow)."""

    heads: dict[int, str] = field(default_factory=dict)
    number: int = 0

    def extend(self, partition: int, payload: bytes) -> tuple[str, list[tuple[str, bytes]]]:
        """Chain ``payload`` onto ``partition``: its link and chain headers."""
        self.number += 1
        previous = self.heads.get(partition)
        self.heads[partition] = link(previous, self.number, payload)
        headers = [(NOTIFICATION, str(self.number).encode()), (PREVIOUS, (previous or "").encode()),
                   (HASH, self.heads[partition].encode())]  # fmt: skip
        return self.heads[partition], headers

    def encode(self) -> bytes:
        """JSON for the observer's positions topic."""
        return json.dumps({"heads": self.heads, "number": self.number}).encode()

    @classmethod
    def decode(cls, payload: bytes) -> ObservationChain:
        """The chain in ``payload``."""
        data = json.loads(payload)
        heads = {int(partition): str(head) for partition, head in dict(data["heads"]).items()}
        return cls(heads, int(data["number"]))
