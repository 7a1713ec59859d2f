"""The ``billing`` system's tables, and the triggers that keep its change feed honest.

They belong to the billing system's own role (``billing_owner``), which makes them at
deployment (:func:`infra.stack.database.ensure_billing`); its API clients may change
``records`` but neither write ``changes`` nor touch the triggers. The feed trigger runs
as the owner (``SECURITY DEFINER``), so a client's change is recorded all the same.

Every change to ``records`` — through :class:`PostgresSystemOfRecord` or a human's SQL —
goes through the triggers: an UPDATE always bumps ``version``, and each insert, update or
delete appends the row as it now is to ``changes``. Every writer of the feed first calls
``records_feed_lock()`` (an advisory lock held until commit), so sequence numbers are handed
out in commit order and a reader resuming after sequence *n* never misses a change committed
later with a lower one. ``changes_head()`` tells a client how far the feed's sequence has
gone (the sequence itself is the owner's): a change numbered beyond it was not written by
the feed.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import TupleRow

SCHEMA_LOCK = 0x61675F736F725F31  # advisory lock held while creating the schema

DDL = """
CREATE TABLE IF NOT EXISTS records (
    type text NOT NULL, id text NOT NULL, fields jsonb NOT NULL DEFAULT '{}',
    version bigint NOT NULL DEFAULT 1, deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (type, id));
CREATE TABLE IF NOT EXISTS changes (
    seq bigserial PRIMARY KEY, type text NOT NULL, id text NOT NULL,
    version bigint NOT NULL, fields jsonb NOT NULL, deleted boolean NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE IF NOT EXISTS idempotency (
    key text PRIMARY KEY, type text NOT NULL, id text NOT NULL, result jsonb NOT NULL);

CREATE OR REPLACE FUNCTION records_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION records_feed_lock() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7018986710744473650);
END $$;

CREATE OR REPLACE FUNCTION records_feed() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM records_feed_lock();
    IF TG_OP = 'DELETE' THEN
        INSERT INTO changes (type, id, version, fields, deleted)
        VALUES (OLD.type, OLD.id, OLD.version + 1, '{}', true);
        RETURN OLD;
    END IF;
    INSERT INTO changes (type, id, version, fields, deleted)
    VALUES (NEW.type, NEW.id, NEW.version, NEW.fields, NEW.deleted);
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION changes_head() RETURNS bigint LANGUAGE sql STABLE
SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM changes_seq_seq
$$;

CREATE OR REPLACE TRIGGER records_bump_version BEFORE UPDATE ON records
    FOR EACH ROW EXECUTE FUNCTION records_bump_version();
CREATE OR REPLACE TRIGGER records_feed AFTER INSERT OR UPDATE OR DELETE ON records
    FOR EACH ROW EXECUTE FUNCTION records_feed();
"""


def ensure_schema(conn: psycopg.Connection[TupleRow]) -> None:
    """Create what is missing, in one transaction under :data:`SCHEMA_LOCK`.

    Concurrent starts queue on the lock; the later ones find everything in place.
    """
    with conn.transaction():
        conn.execute("SELECT pg_catalog.pg_advisory_xact_lock(%s::bigint)", (SCHEMA_LOCK,))
        conn.execute(DDL.encode())
