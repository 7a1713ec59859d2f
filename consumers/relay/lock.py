"""One active relay per ledger: a PostgreSQL advisory lock held for the relay's lifetime.

If the active relay dies, its connection closes, the lock is released, and a standby
that polls for it takes over.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time

import psycopg
from psycopg.conninfo import make_conninfo

log = logging.getLogger("agentledger.lock")
DEAD_PEER = {"keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 2,
             "tcp_user_timeout": 10_000}  # fmt: skip
"""libpq options that end the idle session within seconds if the server vanishes (a
partition sends no reset): :meth:`RelayLock.held` then sees the lock gone, not a hang."""
CHECK_S = 1.0
"""How often :meth:`RelayLock.held` asks the server whether the session is still alive."""


class RelayLock:
    """A session-level advisory lock named after the ledger."""

    def __init__(self, database_url: str, name: str) -> None:
        """The lock for ledger ``name`` in the database at ``database_url``."""
        self._conninfo = make_conninfo(database_url, **DEAD_PEER)
        self._key = int.from_bytes(
            hashlib.sha256(f"relay:{name}".encode()).digest()[:8], "big", signed=True
        )
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._checked = 0.0
        self.standing_by = threading.Event()
        """Set while this process reaches the database and another holds the lock."""

    def acquire(self, stop: threading.Event, poll_s: float = 0.5) -> bool:
        """Block (as a standby) until the lock is ours or ``stop`` is set; True if ours.

        A database outage is waited out (the standby tries again every ``poll_s``).
        """
        conn: psycopg.Connection[tuple[object, ...]] | None = None
        while not stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self._conninfo, autocommit=True)
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
            except psycopg.OperationalError as exc:
                self.standing_by.clear()
                log.warning("lock %s: database unreachable, waiting: %s", self._key, exc)
                if conn is not None:
                    conn.close()
                conn = None
            else:
                if row and row[0]:
                    self._conn, self._checked = conn, time.monotonic()
                    self.standing_by.clear()
                    return True
                self.standing_by.set()
            stop.wait(poll_s)
        if conn is not None:
            conn.close()
        return False

    def held(self) -> bool:
        """True while our session (and so the lock) is alive, as last seen by the server.

        The session is idle while the lock is held, so a server restart or a killed
        backend would go unnoticed locally: it is asked every :data:`CHECK_S`.
        """
        if self._conn is None or self._conn.closed:
            return False
        if time.monotonic() - self._checked >= CHECK_S:
            try:
                self._conn.execute("SELECT 1")
            except psycopg.Error:
                self.release()
                return False
            self._checked = time.monotonic()
        return True

    def release(self) -> None:
        """Give the lock up (closing the session releases it)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
