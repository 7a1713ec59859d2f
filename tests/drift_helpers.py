"""Running the reconciler as its own process, and reading what it says on drift.v1."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from agentledger.processes import ReconcilerProcess, reconciler_progress
from agentledger.settings import Settings
from domain.events import DriftDetected, DriftResolved
from tests.decider_helpers import read_topic


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
