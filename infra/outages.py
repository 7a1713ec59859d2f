"""One answer for every service to "wait this out, or give up on the work?".

An outage (the database, the registry or the broker not answering, a partition's leader
still moving) is waited out and the same work tried again; any other error belongs to
the work itself, which is retried a few times and then set aside with its reason.

The ledger reaches PostgreSQL through eventsourcing, whose ``get_connection`` turns
psycopg's errors into its own: an outage under a ledger read or write is an
:class:`eventsourcing.persistence.OperationalError`, not psycopg's. Services that
retried only psycopg's error took an outage for a broken record: the decider and the
executor dead-lettered what they were given, and the relay stopped.
"""

from __future__ import annotations

import psycopg
from confluent_kafka import KafkaError, KafkaException
from eventsourcing.persistence import OperationalError as LedgerUnreachable

from infra.serde.errors import RegistryUnavailable

DATABASE_OUTAGES: tuple[type[Exception], ...] = (psycopg.OperationalError, LedgerUnreachable)
"""The errors of a database that is down or unreachable (psycopg's own, and the ledger's)."""

OUTAGES: tuple[type[Exception], ...] = (RegistryUnavailable, KafkaException, *DATABASE_OUTAGES)
"""What a service waits out: registry, broker or database unavailable."""

KAFKA_SETTLING = frozenset({
    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.REQUEST_TIMED_OUT,
    KafkaError._TIMED_OUT, KafkaError._TRANSPORT,  # noqa: SLF001  # librdkafka's public local codes
})  # fmt: skip
"""Broker answers that say "not yet" (leadership or metadata settling, a timeout)."""


def kafka_settling(error: object) -> bool:
    """Whether a broker's ``error`` (a KafkaException's first argument) is worth asking again."""
    return isinstance(error, KafkaError) and (
        bool(error.retriable()) or error.code() in KAFKA_SETTLING
    )
