"""What a database outage looks like to a service: an error to wait out, never to record.

The ledger reaches PostgreSQL through eventsourcing, whose ``get_connection`` turns
psycopg's errors into its own: an outage under a ledger read or write is an
:class:`eventsourcing.persistence.OperationalError`, not psycopg's. Services that
retried only psycopg's error took an outage for a broken record: the decider and the
executor dead-lettered what they were given, and the relay stopped.
"""

from __future__ import annotations

import psycopg
from eventsourcing.persistence import OperationalError as LedgerUnreachable

DATABASE_OUTAGES: tuple[type[Exception], ...] = (psycopg.OperationalError, LedgerUnreachable)
"""The errors of a database that is down or unreachable (psycopg's own, and the ledger's)."""
