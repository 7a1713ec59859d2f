"""How far the reconciler is behind its partitions, read from faust's consumer."""

from __future__ import annotations

from typing import Any


def faust_lags(consumer: Any) -> list[tuple[str, int, int]]:  # noqa: ANN401  # faust's consumer, untyped
    """(topic, partition, records behind) per assigned partition that was read.

    The high end is what the last fetch saw (the last stable offset in a transaction);
    the position is the last offset faust handed to the agent (faust keeps no public one).
    """
    read: dict[Any, int | None] = consumer._read_offset  # noqa: SLF001
    lags = []
    for tp in consumer.assignment():
        try:
            high = consumer.highwater(tp)
        except AssertionError:  # revoked since assignment() was read (aiokafka asserts it)
            continue
        position = read.get(tp)
        if high is not None and position is not None:
            lags.append((tp.topic, tp.partition, max(high - position - 1, 0)))
    return lags
