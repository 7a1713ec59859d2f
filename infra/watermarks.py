"""A partition's watermarks, asked again while the broker's answer is a transient error.

Right after a start or under heavy load a single broker can answer "not leader for
partition" or time out for a moment; one such answer must not fail a replay, a relay
start or a status check.
"""

from __future__ import annotations

import time

from confluent_kafka import Consumer, KafkaException, TopicPartition

from infra.outages import kafka_settling

PAUSE_S = 0.2


def watermarks(
    consumer: Consumer, partition: TopicPartition, timeout_s: float = 30.0
) -> tuple[int, int]:
    """(low, high) of ``partition``; transient errors are retried until ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = max(deadline - time.monotonic(), 0.1)
        try:
            low, high = consumer.get_watermark_offsets(partition, timeout=min(left, 10.0))
        except KafkaException as exc:
            transient = kafka_settling(exc.args[0] if exc.args else None)
            if not transient or time.monotonic() + PAUSE_S >= deadline:
                raise
            time.sleep(PAUSE_S)
            continue
        return int(low), int(high)


def offsets_since(
    consumer: Consumer, starts: list[TopicPartition], timeout_s: float = 10.0
) -> list[TopicPartition]:
    """Where to read each partition from to see every record at or after its timestamp.

    ``offsets_for_times`` answers -1 (the log end, resolved only when fetching starts)
    where no record is that recent yet, so a record written in between would be
    skipped; the end is taken first instead, as a fixed offset.
    """
    ends = [watermarks(consumer, TopicPartition(p.topic, p.partition), timeout_s)[1]
            for p in starts]  # fmt: skip
    found = consumer.offsets_for_times(starts, timeout_s)
    return [
        TopicPartition(p.topic, p.partition, p.offset if p.offset >= 0 else end)
        for p, end in zip(found, ends, strict=True)
    ]
