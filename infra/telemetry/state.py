"""Series read from the ledger and the views: what is open now (approvals, drift).

A count of what waits is a fact of the database, not of one process. A background thread
asks for it every ``every_s``; a scrape only reads the last answer, so a database that
hangs or is down never slows a scrape. An answer older than ``stale_s`` is left out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("agentledger.metrics")
EVERY_S = 5.0
STALE_S = 60.0

Counts = tuple[int, list[tuple[str, str, int]]]


class StateCollector(Collector):
    """``agentledger_approvals_pending`` and ``agentledger_drift_alerts_open``."""

    def __init__(
        self, pending: Callable[[], int], open_drift: Callable[[], list[tuple[str, str, int]]],
        stale_s: float = STALE_S, clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        """``pending`` counts approval requests waiting; ``open_drift`` open alerts by kind."""
        self._pending, self._open_drift = pending, open_drift
        self._stale_s, self._clock = stale_s, clock
        self._kept: tuple[float, Counts] | None = None

    def refresh(self) -> None:
        """Ask now; an outage is logged and the last answer kept (until it is stale)."""
        try:
            counts = (self._pending(), self._open_drift())
        except Exception as exc:  # noqa: BLE001  # the next refresh tries again
            log.warning("approvals and drift not counted: %s", exc)
            return
        self._kept = (self._clock(), counts)

    def follow(self, stop: threading.Event, every_s: float = EVERY_S) -> threading.Thread:
        """Refresh every ``every_s`` in a daemon thread until ``stop`` is set."""

        def loop() -> None:
            while not stop.is_set():
                self.refresh()
                stop.wait(every_s)

        thread = threading.Thread(target=loop, daemon=True, name="state-metrics")
        thread.start()
        return thread

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The two gauges from the last answer; none while there is no fresh one."""
        kept = self._kept
        if kept is None or self._clock() - kept[0] > self._stale_s:
            return
        pending, drift = kept[1]
        yield GaugeMetricFamily(
            "agentledger_approvals_pending", "Approval requests waiting for a decision.",
            value=pending,
        )  # fmt: skip
        alerts = GaugeMetricFamily(
            "agentledger_drift_alerts_open", "Open drift alerts, by class and severity.",
            labels=["drift_class", "severity"],
        )  # fmt: skip
        for drift_class, severity, count in drift:
            alerts.add_metric([drift_class, severity], count)
        yield alerts
