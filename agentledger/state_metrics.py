"""The scrape-time series (approvals pending, open drift) on the API role's reads."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from agentledger.bootstrap import ledger, projection_store
from agentledger.settings import Settings
from infra.telemetry.state import StateCollector
from projections.drift import open_counts

CONNECT_TIMEOUT_S = 5


def state_collector(settings: Settings) -> tuple[StateCollector, Callable[[], None]]:
    """The collector, and what closes its ledger connections.

    It reads as the API does (the approval index, the drift view): nothing it may change.
    """
    the_ledger = ledger(settings, "api")
    store = projection_store(settings, "api")
    approvals = the_ledger.approvals
    if approvals is None:
        raise TypeError("the ledger was built without its approval index")

    def open_drift() -> list[tuple[str, str, int]]:
        with psycopg.connect(store.url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            return open_counts(conn, store.prefix)

    return StateCollector(approvals.pending, open_drift), the_ledger.close
