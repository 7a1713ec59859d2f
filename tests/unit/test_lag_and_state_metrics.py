"""Consumer lag per partition, and the scrape-time counts of what is open."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from confluent_kafka import TopicPartition
from prometheus_client import CollectorRegistry

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
    """Pending approvals and open alerts by class and severity; an outage is no scrape error."""
    registry = CollectorRegistry()
    registry.register(StateCollector(lambda: 4, lambda: [("out_of_band_change", "warning", 2)]))
    assert registry.get_sample_value("agentledger_approvals_pending") == 4
    labels = {"drift_class": "out_of_band_change", "severity": "warning"}
    assert registry.get_sample_value("agentledger_drift_alerts_open", labels) == 2

    def down() -> int:
        raise ConnectionError("database down")

    failing = CollectorRegistry()
    failing.register(StateCollector(down, list))
    assert failing.get_sample_value("agentledger_approvals_pending") is None


def test_state_is_asked_once_per_cache_window_and_again_after() -> None:
    """Scrapes within the window share one answer; the next window asks again."""
    now, asked = [0.0], []

    def pending() -> int:
        asked.append(now[0])
        return len(asked)

    registry = CollectorRegistry()
    registry.register(StateCollector(pending, list, cache_s=5, clock=lambda: now[0]))
    assert registry.get_sample_value("agentledger_approvals_pending") == 1
    now[0] = 4.9
    assert registry.get_sample_value("agentledger_approvals_pending") == 1
    now[0] = 5.0
    assert registry.get_sample_value("agentledger_approvals_pending") == 2
    assert asked == [0.0, 5.0]
