"""Series read from the ledger and the views when Prometheus scrapes: what is open now.

A count of what waits (approvals, drift alerts) is a fact of the database, not of one
process: it is asked for at each scrape, so it is right whichever process changed it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("agentledger.metrics")


class StateCollector(Collector):
    """``agentledger_approvals_pending`` and ``agentledger_drift_alerts_open``."""

    def __init__(
        self, pending: Callable[[], int], open_drift: Callable[[], list[tuple[str, str, int]]]
    ) -> None:
        """``pending`` counts approval requests waiting; ``open_drift`` open alerts by kind."""
        self._pending, self._open_drift = pending, open_drift

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The two gauges; a database that does not answer leaves them out (and is logged)."""
        try:
            pending, drift = self._pending(), self._open_drift()
        except Exception as exc:  # noqa: BLE001  # a scrape must answer with what it has
            log.warning("approvals and drift not counted in this scrape: %s", exc)
            return
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
