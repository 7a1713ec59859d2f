"""The CRM's storage: records, their change feed and stored idempotent replies, in SQLite.

One connection, one lock: every operation runs in one ``BEGIN IMMEDIATE`` transaction
while holding the lock, so the server's threads never interleave inside a change.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    type TEXT NOT NULL, id TEXT NOT NULL, fields TEXT NOT NULL,
    version INTEGER NOT NULL, deleted INTEGER NOT NULL, PRIMARY KEY (type, id));
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, id TEXT NOT NULL,
    version INTEGER NOT NULL, fields TEXT NOT NULL, deleted INTEGER NOT NULL,
    changed_at TEXT NOT NULL, traceparent TEXT);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status INTEGER NOT NULL,
    body TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Record:
    """One record as stored: deleted records keep their row so versions keep growing."""

    type: str
    id: str
    fields: dict[str, Any]
    version: int
    deleted: bool = False

    def to_json(self) -> dict[str, Any]:
        """The API's representation (versions are opaque strings, as in the ``ETag``)."""
        body = {"id": self.id, "type": self.type, "fields": self.fields}
        return {**body, "version": str(self.version)}


@dataclass(frozen=True)
class StoredReply:
    """The reply given to the first request carrying an idempotency key."""

    fingerprint: str
    status: int
    body: dict[str, Any]


class Tx:
    """Reads and writes inside one transaction of :meth:`Store.transaction`."""

    def __init__(self, db: sqlite3.Connection) -> None:
        """Work on ``db``, whose transaction the store has begun."""
        self._db = db

    def record(self, kind: str, ident: str) -> Record | None:
        """The stored record (possibly marked deleted), or ``None`` if it never existed."""
        row = self._db.execute(
            "SELECT fields, version, deleted FROM records WHERE type = ? AND id = ?", (kind, ident)
        ).fetchone()
        if row is None:
            return None
        return Record(kind, ident, json.loads(row[0]), row[1], deleted=bool(row[2]))

    def save(self, record: Record, traceparent: str | None = None) -> None:
        """Store ``record`` and append it to the change feed (with the writer's trace, if any)."""
        fields = json.dumps(record.fields)
        values = (record.type, record.id, fields, record.version, int(record.deleted))
        self._db.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?)", values)
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        self._db.execute(
            "INSERT INTO changes (type, id, fields, version, deleted, changed_at, traceparent)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (*values, now, traceparent),
        )

    def changes(self, since: int, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` feed entries after ``since``, oldest first, as the API shows them."""
        rows = self._db.execute(
            "SELECT seq, type, id, version, fields, deleted, changed_at, traceparent"
            " FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
            (since, limit),
        ).fetchall()
        return [
            {
                "seq": seq, "type": kind, "id": ident, "version": str(version),
                "fields": json.loads(fields), "deleted": bool(deleted), "changed_at": changed_at,
                **({"traceparent": traced} if traced else {}),
            }
            for seq, kind, ident, version, fields, deleted, changed_at, traced in rows
        ]  # fmt: skip

    def changes_head(self) -> int:
        """The highest sequence AUTOINCREMENT has handed out to ``changes``."""
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
        return int(row[0]) if row is not None else 0

    def reply(self, key: str) -> StoredReply | None:
        """The reply stored under an idempotency key, if any."""
        row = self._db.execute(
            "SELECT fingerprint, status, body FROM idempotency WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else StoredReply(row[0], row[1], json.loads(row[2]))

    def remember(self, key: str, reply: StoredReply) -> None:
        """Store the reply to the first request carrying ``key``."""
        self._db.execute(
            "INSERT INTO idempotency VALUES (?, ?, ?, ?)",
            (key, reply.fingerprint, reply.status, json.dumps(reply.body)),
        )


class Store:
    """The SQLite file under the data directory; it survives restarts of the process."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the database at ``path``."""
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(changes)")}
        if "traceparent" not in columns:  # a store made before the feed kept writers' traces
            try:
                self._db.execute("ALTER TABLE changes ADD COLUMN traceparent TEXT")
            except sqlite3.OperationalError as exc:  # another process added it just now
                if "duplicate column" not in str(exc):
                    raise

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One serialised transaction: committed when the block ends, rolled back on error."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the file once no transaction runs."""
        with self._lock:
            self._db.close()
