"""What the CRM does with a request: versioned writes, idempotent replays, the change feed.

Fields are JSON; exact decimals arrive (and stay) as strings, as the client sent them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from simulators.crm_saas.replies import Problem, Reply, etag, if_match_allows
from simulators.crm_saas.store import Record, Store, StoredReply, Tx

VERSION = "1.0"


@dataclass(frozen=True)
class Write:
    """A PUT (``patch`` = the fields to merge) or a DELETE (``patch`` = ``None``)."""

    type: str
    id: str
    patch: dict[str, Any] | None
    if_match: str | None
    idempotency_key: str | None
    fingerprint: str
    """Identifies the request, so a key reused for another request is refused."""
    traceparent: str | None = None
    """The writer's W3C trace context, kept with the change in the feed."""


class Crm:
    """The service behind the HTTP API."""

    def __init__(self, store: Store) -> None:
        """Serve the records in ``store``; writes are kept until :attr:`drop_writes`."""
        self._store = store
        self._drop = threading.Event()

    @property
    def drop_writes(self) -> bool:
        """True while PUT and DELETE answer success but store nothing (a faulty vendor)."""
        return self._drop.is_set()

    def set_drop_writes(self, enabled: bool) -> Reply:  # noqa: FBT001  # mirrors the JSON flag
        """Switch silent write dropping on or off."""
        (self._drop.set if enabled else self._drop.clear)()
        return Reply(200, {"drop_writes": enabled})

    def health(self) -> Reply:
        """Liveness, version and the fault switch."""
        body = {"status": "ok", "service": "crm-saas", "version": VERSION}
        return Reply(200, {**body, "drop_writes": self.drop_writes})

    def get(self, kind: str, ident: str) -> Reply:
        """The live record, or 404."""
        with self._store.transaction() as tx:
            record = _live(tx, kind, ident)
        if record is None:
            raise Problem(404, f"{kind}/{ident} does not exist")
        return Reply(200, record.to_json(), etag(str(record.version)))

    def write(self, write: Write) -> Reply:
        """Apply a PUT or DELETE once per idempotency key, if ``If-Match`` allows it."""
        with self._store.transaction() as tx:
            if write.idempotency_key is not None:
                stored = tx.reply(write.idempotency_key)
                if stored is not None:
                    return _replayed(stored, write)
            live = _live(tx, write.type, write.id)
            current = None if live is None else str(live.version)
            if not if_match_allows(write.if_match, current):
                detail = f"{write.type}/{write.id} is at version {current}"
                raise Problem(412, detail, current_version=current)
            if write.patch is None and live is None:
                raise Problem(404, f"{write.type}/{write.id} does not exist")
            record = _next(tx, write.type, write.id, write.patch)
            body = {**record.to_json(), "deleted": record.deleted}
            reply = Reply(201 if live is None else 200, body, etag(str(record.version)))
            if self.drop_writes:
                return reply
            tx.save(record, write.traceparent)
            if write.idempotency_key is not None:
                stored = StoredReply(write.fingerprint, reply.status, reply.body)
                tx.remember(write.idempotency_key, stored)
        return reply

    def edit(self, kind: str, ident: str, fields: dict[str, Any]) -> Reply:
        """An out-of-band edit, as a human in the UI makes it: no key, no version check."""
        with self._store.transaction() as tx:
            record = _next(tx, kind, ident, fields)
            tx.save(record)
        return Reply(200, record.to_json(), etag(str(record.version)))

    def changes(self, since: int, limit: int) -> Reply:
        """Up to ``limit`` feed entries after sequence ``since``."""
        with self._store.transaction() as tx:
            return Reply(200, {"changes": tx.changes(since, limit)})

    def changes_head(self) -> Reply:
        """The highest sequence the feed has handed out (0: none yet)."""
        with self._store.transaction() as tx:
            return Reply(200, {"head": tx.changes_head()})


def _live(tx: Tx, kind: str, ident: str) -> Record | None:
    record = tx.record(kind, ident)
    return None if record is None or record.deleted else record


def _next(tx: Tx, kind: str, ident: str, patch: dict[str, Any] | None) -> Record:
    """The record after merging ``patch`` (or deleting, for ``None``), one version later."""
    stored = tx.record(kind, ident)
    version = 1 if stored is None else stored.version + 1
    if patch is None:
        return Record(kind, ident, {}, version, deleted=True)
    base = {} if stored is None or stored.deleted else stored.fields
    return Record(kind, ident, {**base, **patch}, version)


def _replayed(stored: StoredReply, write: Write) -> Reply:
    if stored.fingerprint != write.fingerprint:
        detail = f"Idempotency-Key {write.idempotency_key!r} was used for a different request"
        raise Problem(422, detail)
    headers = {**etag(str(stored.body.get("version"))), "Idempotent-Replayed": "true"}
    return Reply(stored.status, stored.body, headers)
