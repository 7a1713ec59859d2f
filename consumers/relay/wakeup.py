"""Wake the idle relay when the ledger commits events (PostgreSQL LISTEN/NOTIFY).

Every insert of the ledger notifies its channel in the inserting transaction, so the
notification arrives when the events become visible. The relay listens before it
first reads the store: a commit after that read is queued on the connection and ends
the next wait at once. Waits still end after ``timeout_s``, so a missed notification
costs that long at most. Without a connection (it failed or was lost) a wait is a short
sleep, as the relay polled before; listening is tried again every ``retry_s``, and a
failure is logged once, not once per wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg
from psycopg.sql import SQL, Identifier

log = logging.getLogger("agentledger.relay")


class StoreWakeup:
    """Waits on the ledger's notification channel; falls back to sleeping without it."""

    def __init__(
        self, database_url: str, channel: str, *, retry_s: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        """Listen on ``channel`` (the ledger recorder's ``channel_name``) of that database."""
        self._url, self._channel = database_url, channel
        self._retry_s, self._monotonic = retry_s, monotonic
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._next_try = 0.0
        self._failing = False

    def listen(self) -> bool:
        """Start listening (call before the first read of the store); False if it failed.

        After a failure, the next ``retry_s`` of calls return False without trying.
        """
        if self._conn is not None and not self._conn.closed:
            return True
        now = self._monotonic()
        if now < self._next_try:
            return False
        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            return self._failed(now, exc)
        try:
            conn.execute(SQL("LISTEN {0}").format(Identifier(self._channel)))
        except psycopg.Error as exc:
            conn.close()
            return self._failed(now, exc)
        if self._failing:
            log.info("listening for new events again")
        self._conn, self._failing = conn, False
        return True

    def _failed(self, now: float, exc: psycopg.Error) -> bool:
        if not self._failing:
            log.warning(
                "cannot listen for new events, polling; retrying every %.0f s: %s",
                self._retry_s,
                exc,
            )
        self._failing, self._next_try = True, now + self._retry_s
        return False

    def wait(self, stop: threading.Event, timeout_s: float, poll_s: float) -> bool:
        """Until events were committed since the last wait, ``timeout_s`` passed, or ``stop``.

        True if a notification ended the wait. Notifications that piled up are all
        taken, so the next wait blocks until something new is committed. Without a
        listening connection, sleeps ``poll_s`` instead.
        """
        if stop.is_set():
            return False
        if not self.listen() or self._conn is None:
            stop.wait(poll_s)
            return False
        try:
            woken = any(True for _ in self._conn.notifies(timeout=timeout_s, stop_after=1))
            if woken:
                for _ in self._conn.notifies(timeout=0):  # drain the rest of the pile
                    pass
        except psycopg.Error as exc:
            log.warning("lost the notification connection, polling until it is back: %s", exc)
            self.close()
            stop.wait(poll_s)
            return False
        return woken

    def close(self) -> None:
        """Stop listening."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
