"""The series of what is open (approvals pending, open drift), read as the API reads.

Read in a background thread (see :class:`StateCollector`): nothing a scrape or a probe
waits for. Nothing is connected before the first read, so the run's endpoint starts
whether or not the database does.
"""

from __future__ import annotations

import threading
import time

import psycopg

from agentledger.bootstrap import ledger, projection_store
from agentledger.settings import Settings
from infra.ledger.ledger import Ledger
from infra.telemetry.state import StateCollector
from projections.drift import open_counts

CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 5000
RETRY_S = 30.0
"""After a failure to connect, how long before connecting is tried again."""


class StateReads:
    """The two reads, on connections made when first needed (again after a failure)."""

    def __init__(self, settings: Settings) -> None:
        """Read ``settings``' ledger and views as the role ``api`` (nothing it may change)."""
        self._settings = settings
        self._ledger: Ledger | None = None
        self._failed_at = -RETRY_S
        self._lock = threading.Lock()

    def pending(self) -> int:
        """Approval requests waiting for a decision."""
        approvals = self._connected().approvals
        if approvals is None:
            raise TypeError("the ledger was built without its approval index")
        return approvals.pending()

    def open_drift(self) -> list[tuple[str, str, int]]:
        """(class, severity, count) of the open drift alerts."""
        store = projection_store(self._settings, "api")
        with psycopg.connect(
            store.url, connect_timeout=CONNECT_TIMEOUT_S,
            options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        ) as conn:  # fmt: skip
            return open_counts(conn, store.prefix)

    def _connected(self) -> Ledger:
        with self._lock:
            if self._ledger is None:
                if time.monotonic() - self._failed_at < RETRY_S:
                    raise ConnectionError("the database did not answer lately; trying later")
                try:
                    self._ledger = ledger(self._settings, "api")
                except Exception:
                    self._failed_at = time.monotonic()
                    raise
            return self._ledger

    def close(self) -> None:
        """Close the ledger's connections, if they were made."""
        if self._ledger is not None:
            self._ledger.close()


def state_collector(settings: Settings) -> tuple[StateCollector, StateReads]:
    """The collector, and its reads (close them at the end)."""
    reads = StateReads(settings)
    return StateCollector(reads.pending, reads.open_drift), reads
