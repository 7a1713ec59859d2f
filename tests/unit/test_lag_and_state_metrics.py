"""Consumer lag per partition, and the scrape-time counts of what is open."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import NamedTuple

import pytest
from confluent_kafka import TopicPartition
from prometheus_client import CollectorRegistry

from consumers.reconciler.lag import faust_lags
from infra.telemetry.lag import LagReport
from infra.telemetry.metrics import CONSUMER_LAG
from infra.telemetry.state import StateCollector

pytestmark = pytest.mark.unit


class _Consumer:
    """What LagReport asks of a consumer: its assignment, positions and cached watermarks."""

    def __init__(self, positions: dict[int, int], highs: dict[int, int]) -> None:
        self.positions, self.highs = positions, highs

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition("t", p) for p in self.positions]

    def position(self, parts: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(p.topic, p.partition, self.positions[p.partition]) for p in parts]

    def get_watermark_offsets(self, part: TopicPartition, *, cached: bool) -> tuple[int, int]:
        assert cached, "a report must not wait for the broker"
        return 0, self.highs[part.partition]


def _lag(group: str, partition: int) -> float:
    return float(CONSUMER_LAG.labels("decider", group, "t", str(partition))._value.get())  # noqa: SLF001


def test_lag_is_high_minus_position_and_a_revoked_partition_goes_to_zero() -> None:
    """Partition 0 lags 7; 1 (nothing fetched yet) is not reported; revoked, 0 reads 0.

    Reports wait for their interval; a revoked partition is another member's to report.
    """
    now = [0.0]
    clock: Callable[[], float] = lambda: now[0]  # noqa: E731
    report = LagReport("decider", "g-lag", every_s=5, clock=clock)
    report(_Consumer({0: 3, 1: -1001}, {0: 10, 1: -1001}))  # type: ignore[arg-type]
    assert _lag("g-lag", 0) == 7
    reported = {s.labels["partition"] for m in CONSUMER_LAG.collect() for s in m.samples
                if s.labels["group"] == "g-lag"}  # fmt: skip
    assert reported == {"0"}
    report(_Consumer({}, {}))  # type: ignore[arg-type]  # too soon: nothing changes
    assert _lag("g-lag", 0) == 7
    now[0] = 5.0
    report(_Consumer({}, {}))  # type: ignore[arg-type]
    assert _lag("g-lag", 0) == 0


def test_state_series_count_what_is_open_and_a_failing_database_leaves_them_out() -> None:
    """Pending approvals and open alerts by kind, once read; an outage leaves them out."""
    collector = StateCollector(lambda: 4, lambda: [("out_of_band_change", "warning", 2)])
    registry = CollectorRegistry()
    registry.register(collector)
    assert registry.get_sample_value("agentledger_approvals_pending") is None  # not read yet
    collector.refresh()
    assert registry.get_sample_value("agentledger_approvals_pending") == 4
    labels = {"drift_class": "out_of_band_change", "severity": "warning"}
    assert registry.get_sample_value("agentledger_drift_alerts_open", labels) == 2

    def down() -> int:
        raise ConnectionError("database down")

    failing = StateCollector(down, list)
    failing.refresh()
    outage = CollectorRegistry()
    outage.register(failing)
    assert outage.get_sample_value("agentledger_approvals_pending") is None


def test_a_scrape_reads_the_last_answer_until_it_is_stale() -> None:
    """A failed refresh keeps the last answer; one older than ``stale_s`` is left out."""
    now, answers = [0.0], iter([7])

    def pending() -> int:
        return next(answers)  # a second call raises StopIteration: an outage

    collector = StateCollector(pending, list, stale_s=60, clock=lambda: now[0])
    registry = CollectorRegistry()
    registry.register(collector)
    collector.refresh()
    now[0] = 30.0
    collector.refresh()  # fails: the answer of 0 s is kept
    assert registry.get_sample_value("agentledger_approvals_pending") == 7
    now[0] = 60.0
    assert registry.get_sample_value("agentledger_approvals_pending") == 7
    now[0] = 60.5
    assert registry.get_sample_value("agentledger_approvals_pending") is None


def test_the_reconcilers_lag_is_read_from_faust_as_records_behind_what_was_read() -> None:
    """High 10, read up to 6: 3 behind; a partition not read yet is left out, not zero."""
    tp, unread = _TP("t.actions.v1", 2), _TP("t.actions.v1", 3)
    consumer = SimpleNamespace(
        assignment=lambda: {tp, unread}, highwater=lambda _tp: 10, _read_offset={tp: 6}
    )
    assert faust_lags(consumer) == [("t.actions.v1", 2, 3)]


def test_a_partition_revoked_while_the_reconcilers_lag_is_read_is_left_out() -> None:
    """Aiokafka asserts a partition is assigned when asked its high end: that one is skipped."""
    tp, gone = _TP("t.actions.v1", 0), _TP("t.actions.v1", 1)

    def highwater(asked: _TP) -> int:
        assert asked != gone, "not assigned"
        return 5

    consumer = SimpleNamespace(assignment=lambda: [gone, tp], highwater=highwater,
                               _read_offset={tp: 4, gone: 1})  # fmt: skip
    assert faust_lags(consumer) == [("t.actions.v1", 0, 0)]


class _TP(NamedTuple):
    topic: str
    partition: int
