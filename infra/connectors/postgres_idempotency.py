"""Idempotency keys of the ``billing`` system: one stored result per key, for one mutation.

A key is bound to a digest of the mutation it first applied, so a repeat returns the stored
result while a key reused for a different mutation is refused (it would hide a bug).
"""

from __future__ import annotations

import hashlib

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from infra.connectors.base import Applied, Mutation, MutationRefused
from infra.connectors.values import dumps, fields_of


def fingerprint(mutation: Mutation) -> str:
    """A digest of what the mutation does, to tell a true repeat from a reused key."""
    what = {"resource": mutation.resource.key, "operation": mutation.operation.value}
    return hashlib.sha256(dumps({**what, "fields": mutation.fields}).encode()).hexdigest()


def replay(conn: psycopg.Connection[TupleRow], key: str, request: str) -> Applied | None:
    """The stored result of ``key`` marked replayed, or ``None`` if the key is new."""
    row = conn.execute("SELECT result FROM idempotency WHERE key = %s", (key,)).fetchone()
    if row is None:
        return None
    result = row[0]
    if result.get("request") != request:
        raise MutationRefused(f"idempotency key {key!r} was used for a different mutation")
    return Applied(str(result["version"]), fields_of(result["fields"]), replayed=True)


def remember(
    conn: psycopg.Connection[TupleRow], key: str, mutation: Mutation, applied: Applied
) -> None:
    """Store ``applied`` as the result of ``key`` (in the caller's transaction)."""
    ref = mutation.resource
    result = {"version": applied.external_version, "fields": applied.fields}
    conn.execute(
        "INSERT INTO idempotency (key, type, id, result) VALUES (%s, %s, %s, %s)",
        (key, ref.type, ref.id, Jsonb({**result, "request": fingerprint(mutation)}, dumps=dumps)),
    )
