"""Running the reconciler as its own process, and reading what it says on drift.v1."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from agentledger.processes import ReconcilerProcess, reconciler_progress
from agentledger.settings import Settings
from domain.events import DriftDetected, DriftResolved
from infra.watermarks import watermarks
from tests.decider_helpers import read_topic
from tests.kafka_helpers import as_operator


def fast(settings: Settings) -> Settings:
    """``settings`` with short windows (each drift class shows within seconds), a quick observer."""
    return settings.model_copy(update={
        "reconciler_settle_s": 2.0, "reconciler_stale_after_s": 6.0, "reconciler_tick_s": 0.5,
        "observer_poll_s": 0.2, "observer_heartbeat_s": 1.0,
    })  # fmt: skip


@contextmanager
def running_reconciler(settings: Settings, log: Path) -> Iterator[ReconcilerProcess]:
    """A ready reconciler for the block; stopped afterwards."""
    process = ReconcilerProcess(settings, log)
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def reconciled_up_to_now(settings: Settings, timeout_s: float = 60) -> None:
    """Wait until the reconciler has committed every observation on the topic right now."""
    marks = [high - 1 for _committed, high in reconciler_progress(settings)]
    deadline = time.monotonic() + timeout_s
    while True:
        done = [committed for committed, _high in reconciler_progress(settings)]
        if all(c >= mark for c, mark in zip(done, marks, strict=True)):
            return
        assert time.monotonic() < deadline, f"reconciler committed {done}, not {marks}"
        time.sleep(0.2)


def drift_records(settings: Settings) -> list[DriftDetected | DriftResolved]:
    """Everything on drift.v1 so far."""
    return [
        r for r in read_topic(settings, "drift.v1", until=10**7, timeout_s=2)
        if isinstance(r, DriftDetected | DriftResolved)
    ]  # fmt: skip


def unmarked_partitions(settings: Settings, topic: str, partitions: int) -> dict[int, int]:
    """``topic``'s partitions whose last committed record has no transaction marker after it.

    A transactional producer's commit writes a control record right after the
    transaction's records (one producer writes each partition here); a plain producer
    writes none. Control records are never delivered but take an offset, which the
    consumer's position passes. Partition → that last committed record's offset.
    """
    unmarked: dict[int, int] = {}
    for partition in range(partitions):
        tp = TopicPartition(topic, partition)
        committed, _position = _read(settings, tp, "read_committed", until=None)
        if not committed:
            continue
        after = committed[-1] + 1
        records, position = _read(settings, tp, "read_uncommitted", until=after + 1)
        if after in records or position <= after:
            unmarked[partition] = committed[-1]
    return unmarked


def _read(
    settings: Settings, tp: TopicPartition, isolation: str, until: int | None
) -> tuple[list[int], int]:
    """Offsets of ``tp``'s records read at ``isolation``, and the position reached.

    Reads until the position reaches ``until`` (default: the high watermark) or for 15 s.
    """
    consumer = Consumer({
        **as_operator(settings), "group.id": "unused",
        "isolation.level": isolation, "enable.auto.commit": False,
    })  # fmt: skip
    offsets: list[int] = []
    position = 0
    try:
        if until is None:
            _low, until = watermarks(consumer, tp)
        consumer.assign([TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING)])
        deadline = time.monotonic() + 15
        while position < until and time.monotonic() < deadline:
            messages = consumer.consume(1000, timeout=0.2)
            offsets += [o for m in messages if m.error() is None and (o := m.offset()) is not None]
            [mark] = consumer.position([tp])
            position = max(position, mark.offset)
    finally:
        consumer.close()
    return offsets, position


def wait_for(
    settings: Settings,
    wanted: Callable[[list[DriftDetected | DriftResolved]], bool],
    timeout_s: float = 60,
) -> list[DriftDetected | DriftResolved]:
    """drift.v1's records once ``wanted`` holds for them (raises with what was seen otherwise)."""
    deadline = time.monotonic() + timeout_s
    records: list[DriftDetected | DriftResolved] = []
    while time.monotonic() < deadline:
        records = drift_records(settings)
        if wanted(records):
            return records
    seen = [(type(r).__name__, r.resource.key, getattr(r, "drift_class", "")) for r in records]
    raise AssertionError(f"not seen within {timeout_s:.0f} s; drift.v1 holds {seen}")


def detected(
    records: list[DriftDetected | DriftResolved], key: str, drift_class: str | None = None
) -> list[DriftDetected]:
    """The alerts raised for resource ``key`` (of ``drift_class``, if given)."""
    return [
        r for r in records
        if isinstance(r, DriftDetected) and r.resource.key == key
        and (drift_class is None or r.drift_class == drift_class)
    ]  # fmt: skip


def resolved(records: list[DriftDetected | DriftResolved], alert_id: str) -> bool:
    """Whether the alert ``alert_id`` was resolved."""
    return any(isinstance(r, DriftResolved) and r.alert_id == alert_id for r in records)
