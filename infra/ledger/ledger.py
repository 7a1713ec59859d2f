"""The ledger application: the event store on PostgreSQL, commands in batches."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Transcoder
from psycopg.conninfo import conninfo_to_dict

from domain.context import CommandContext
from infra.ledger.commands import Commands
from infra.ledger.transcoder import RecordTranscoder
from infra.ledger.unit_of_work import UnitOfWork
from infra.serde.catalog import Catalog


class Ledger(Application[UUID]):
    """The source of truth: every aggregate's events, and the notification log."""

    name = "Ledger"  # table: ledger_events

    def __init__(self, env: dict[str, str], catalog: Catalog, name: str = "Ledger") -> None:
        """A ledger called ``name`` (table ``<name>_events``) on the store ``env`` describes."""
        self.name = name
        self.transcoder = RecordTranscoder(catalog)
        super().__init__(env)

    def construct_transcoder(self) -> Transcoder:
        """Records as Avro bodies (see :mod:`infra.ledger.transcoder`)."""
        return self.transcoder

    @contextmanager
    def batch(self, ctx: CommandContext) -> Iterator[Commands]:
        """Commands whose effects are saved together, in one transaction, at the end.

        If any command raises, nothing of the batch is saved.
        """
        uow = UnitOfWork(self)
        yield Commands(uow, ctx)
        uow.commit()


def postgres_env(database_url: str, pool_size: int = 5) -> dict[str, str]:
    """Eventsourcing's settings for the PostgreSQL at ``database_url`` (default insert mode)."""
    params = conninfo_to_dict(database_url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(params.get("dbname", "")),
        "POSTGRES_HOST": str(params.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(params.get("port", "5432")),
        "POSTGRES_USER": str(params.get("user", "")),
        "POSTGRES_PASSWORD": str(params.get("password", "")),
        "POSTGRES_POOL_SIZE": str(pool_size),
        "CREATE_TABLE": "y",
    }
