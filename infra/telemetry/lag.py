"""How far a consumer is behind its partitions, as a gauge per partition.

The high end comes from the last fetch (no broker round trip): with ``read_committed`` it is
the last stable offset, so a consumer that read everything shows 0 or 1 (a commit marker).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from confluent_kafka import Consumer

from infra.telemetry.metrics import CONSUMER_LAG

REPORT_EVERY_S = 5.0


class LagReport:
    """Reports a consumer's lag at most every ``every_s`` seconds; revoked partitions go to 0."""

    def __init__(
        self, service: str, group: str, every_s: float = REPORT_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        """For ``service``'s consumer in ``group``."""
        self.service, self.group, self._every_s, self._clock = service, group, every_s, clock
        self._next = 0.0
        self._shown: set[tuple[str, int]] = set()

    def __call__(self, consumer: Consumer) -> None:
        """Report a confluent-kafka consumer's lag now if it is due."""
        if self._due():
            self.report(_behind(consumer))

    def _due(self) -> bool:
        now = self._clock()
        if now < self._next:
            return False
        self._next = now + self._every_s
        return True

    def report_due(self, lags: Callable[[], Iterable[tuple[str, int, int]]]) -> None:
        """Report ``lags()`` — (topic, partition, records behind) — now if it is due."""
        if self._due():
            self.report(lags())

    def report(self, lags: Iterable[tuple[str, int, int]]) -> None:
        """Set each partition's lag; partitions no longer reported here go to 0."""
        shown: set[tuple[str, int]] = set()
        for topic, partition, lag in lags:
            self._set(topic, partition, lag)
            shown.add((topic, partition))
        for topic, partition in self._shown - shown:
            self._set(topic, partition, 0)  # another member reports it now
        self._shown = shown

    def _set(self, topic: str, partition: int, lag: int) -> None:
        CONSUMER_LAG.labels(self.service, self.group, topic, str(partition)).set(lag)


def _behind(consumer: Consumer) -> list[tuple[str, int, int]]:
    """Records behind per assigned partition (the high end from the last fetch, no round trip)."""
    lags = []
    for position in consumer.position(consumer.assignment()):
        _, high = consumer.get_watermark_offsets(position, cached=True)
        if high < 0 or position.offset < 0:
            continue  # nothing fetched yet: unknown, not zero
        lags.append((position.topic, position.partition, max(high - position.offset, 0)))
    return lags
