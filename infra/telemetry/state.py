"""Series read from the ledger and the views when Prometheus scrapes: what is open now.

A count of what waits (approvals, drift alerts) is a fact of the database, not of one
process: it is asked for at scrape time, so it is right whichever process changed it.
Answers are kept for ``cache_s`` (scrapes close together, or several scrapers, ask the
database once), one scrape asks at a time, and an outage leaves the series out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("agentledger.metrics")
CACHE_S = 5.0

Counts = tuple[int, list[tuple[str, str, int]]]


class StateCollector(Collector):
    """``agentledger_approvals_pending`` and ``agentledger_drift_alerts_open``."""

    def __init__(
        self, pending: Callable[[], int], open_drift: Callable[[], list[tuple[str, str, int]]],
        cache_s: float = CACHE_S, clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        """``pending`` counts approval requests waiting; ``open_drift`` open alerts by kind."""
        self._pending, self._open_drift = pending, open_drift
        self._cache_s, self._clock = cache_s, clock
        self._lock = threading.Lock()
        self._kept: tuple[float, Counts] | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The two gauges; a database that does not answer leaves them out (and is logged)."""
        counts = self._counts()
        if counts is None:
            return
        pending, drift = counts
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

    def _counts(self) -> Counts | None:
        with self._lock:
            now = self._clock()
            if self._kept is not None and now - self._kept[0] < self._cache_s:
                return self._kept[1]
            try:
                counts = (self._pending(), self._open_drift())
            except Exception as exc:  # noqa: BLE001  # a scrape must answer with what it has
                log.warning("approvals and drift not counted in this scrape: %s", exc)
                return None
            self._kept = (now, counts)
            return counts
