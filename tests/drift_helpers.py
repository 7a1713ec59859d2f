"""Running the reconciler as its own process, and reading what it says on drift.v1."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from agentledger.settings import Settings
from domain.events import DriftDetected, DriftResolved
from tests.conftest import CLI
from tests.decider_helpers import read_topic

FAST = {
    "AGENTLEDGER_RECONCILER_SETTLE_S": "2",
    "AGENTLEDGER_RECONCILER_STALE_AFTER_S": "6",
    "AGENTLEDGER_RECONCILER_TICK_S": "0.5",
}
"""Short windows, so each drift class shows within seconds."""


def fast(settings: Settings) -> Settings:
    """``settings`` with the windows of :data:`FAST` and a quick observer."""
    return settings.model_copy(update={
        "reconciler_settle_s": 2.0, "reconciler_stale_after_s": 6.0, "reconciler_tick_s": 0.5,
        "observer_poll_s": 0.2, "observer_heartbeat_s": 1.0,
    })  # fmt: skip


def env_of(settings: Settings) -> dict[str, str]:
    """The environment naming ``settings``' ledger and topics, with :data:`FAST` windows."""
    return {
        **os.environ, **FAST,
        "AGENTLEDGER_LEDGER_NAME": settings.ledger_name,
        "AGENTLEDGER_TOPIC_PREFIX": settings.topic_prefix,
    }  # fmt: skip


class ReconcilerProcess:
    """One `agentledger reconciler` process, logging to a file."""

    def __init__(self, settings: Settings, log: Path) -> None:
        """Start it; :meth:`wait_ready` waits for faust's worker to be ready."""
        self.log = log
        self._out = log.open("ab")
        self.process = subprocess.Popen(
            [str(CLI), "reconciler"], env=env_of(settings), stdout=self._out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, timeout_s: float = 90) -> None:
        """Until the worker logs that it is ready (raises with the log's tail otherwise)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            if "[^Worker]: Ready" in text:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.3)
        tail = self.log.read_text(errors="replace")[-3000:]
        raise AssertionError(f"the reconciler did not get ready:\n{tail}")

    def kill(self) -> None:
        """SIGKILL, no goodbye."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not leave within 30 s."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._out.close()


@contextmanager
def running_reconciler(settings: Settings, log: Path) -> Iterator[ReconcilerProcess]:
    """A ready reconciler for the block; stopped afterwards."""
    process = ReconcilerProcess(settings, log)
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


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
