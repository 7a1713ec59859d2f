"""Kafka positions kept in the ledger's transactions: each record's effect happens once.

A consumer that applies a batch through the ledger advances its position in the same
transaction. The advance only applies if the stored position has not passed the
batch's first offset, so a redelivered batch is refused (:class:`AlreadyProcessed`).
"""

from __future__ import annotations

from psycopg.sql import SQL

from infra.ledger.recorder import LedgerRecorder, SideWrite


class KafkaPositions:
    """Positions (next offset to read) per consumer, topic and partition."""

    def __init__(self, recorder: LedgerRecorder) -> None:
        """Positions in ``recorder``'s ``<prefix>_positions`` table."""
        self._recorder = recorder
        table = recorder.table("positions")
        self._advance = SQL(
            "INSERT INTO {0} AS p (consumer, topic, partition, next_offset)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (consumer, topic, partition)"
            " DO UPDATE SET next_offset = EXCLUDED.next_offset WHERE p.next_offset <= %s"
            " RETURNING 1"
        ).format(table)
        self._load = SQL(
            "SELECT partition, next_offset FROM {0} WHERE consumer = %s AND topic = %s"
        ).format(table)

    def advance(
        self, consumer: str, topic: str, partition: int, first: int, next_offset: int
    ) -> SideWrite:
        """Move to ``next_offset`` for a batch starting at ``first`` (refused if already past)."""
        return SideWrite(
            self._advance,
            (consumer, topic, partition, next_offset, first),
            must_change=f"{consumer} is already past offset {first} of {topic}[{partition}]",
        )

    def load(self, consumer: str, topic: str) -> dict[int, int]:
        """The next offset to read per partition, for every partition the consumer ever advanced."""
        with self._recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(self._load, (consumer, topic))
            return {row["partition"]: row["next_offset"] for row in cursor.fetchall()}
