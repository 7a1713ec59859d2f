"""How one mutation becomes SQL on the ``billing`` records table.

The statements never set ``version``: the schema's triggers bump it on every UPDATE
(first version is 1) and append the row to the change feed.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from infra.connectors.base import Mutation, MutationRefused, Operation
from infra.connectors.values import dumps

DELETE = """UPDATE records SET fields = '{}', deleted = true
    WHERE type = %(type)s AND id = %(id)s RETURNING version, fields"""
MERGE = """UPDATE records
    SET fields = CASE WHEN deleted THEN %(patch)s ELSE fields || %(patch)s END, deleted = false
    WHERE type = %(type)s AND id = %(id)s RETURNING version, fields"""
CREATE = """INSERT INTO records (type, id, fields) VALUES (%(type)s, %(id)s, %(patch)s)
    RETURNING version, fields"""


def write(
    conn: psycopg.Connection[TupleRow], mutation: Mutation, *, exists: bool, live: bool
) -> tuple[int, object]:
    """Apply ``mutation`` to its (locked) row; the new version and fields.

    ``exists``: a row is there (maybe marked deleted); ``live``: it is not deleted. An upsert
    merges into a live row and starts afresh on a deleted one; deleting nothing is refused.
    """
    ref = mutation.resource
    params = {"type": ref.type, "id": ref.id, "patch": Jsonb(mutation.fields, dumps=dumps)}
    if mutation.operation is Operation.DELETE:
        if not live:
            raise MutationRefused(f"{ref.key} does not exist")
        statement = DELETE
    else:
        statement = MERGE if exists else CREATE
    row = conn.execute(statement, params).fetchone()
    if row is None:
        raise MutationRefused(f"{ref.key} vanished while locked")
    return int(row[0]), row[1]
