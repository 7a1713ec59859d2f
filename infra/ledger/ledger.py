"""The ledger application: the event store on PostgreSQL, commands in batches."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent, project_aggregate
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import IntegrityError, Recording, Transcoder
from psycopg.conninfo import conninfo_to_dict

from domain.context import CommandContext
from infra.ledger.approval_index import ApprovalIndex
from infra.ledger.commands import Commands
from infra.ledger.control_index import ControlIndex
from infra.ledger.execution_index import ExecutionIndex
from infra.ledger.recorder import LedgerRecorder
from infra.ledger.seal import LedgerSeal
from infra.ledger.transcoder import RecordTranscoder
from infra.ledger.unit_of_work import UnitOfWork
from infra.serde.catalog import Catalog

T = TypeVar("T")


class Ledger(Application[UUID]):
    """The source of truth: every aggregate's events, and the notification log."""

    name = "Ledger"  # table: ledger_events

    def __init__(
        self, env: dict[str, str], catalog: Catalog, name: str = "Ledger",
        *, seal: LedgerSeal | None = None,
    ) -> None:  # fmt: skip
        """A ledger called ``name`` (table ``<name>_events``) on the store ``env`` describes.

        On PostgreSQL every event is sealed with ``seal`` (required there).
        """
        self.name = name
        self.transcoder = RecordTranscoder(catalog)
        super().__init__(env)
        recorder = self.recorder
        self.approvals: ApprovalIndex | None = None
        self.executions: ExecutionIndex | None = None
        self.controls: ControlIndex | None = None
        if env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres" and (
            not isinstance(recorder, LedgerRecorder) or self.snapshots is not None
        ):  # eventsourcing lets the environment swap the recorder or add a snapshot store
            raise ValueError("the ledger's events are read and written by LedgerRecorder only")
        if isinstance(recorder, LedgerRecorder):  # not on the in-memory store of unit tests
            if seal is None:
                raise ValueError("a ledger on PostgreSQL needs its seal key")
            recorder.seal = seal.bound_to(recorder.events_table_name)
            self.approvals = ApprovalIndex(recorder)
            self.executions = ExecutionIndex(recorder)
            self.controls = ControlIndex(recorder)

    @property
    def indexes(self) -> list[ApprovalIndex | ExecutionIndex | ControlIndex]:
        """Tables kept in step with the events, written in the events' transaction."""
        found = (self.approvals, self.executions, self.controls)
        return [index for index in found if index is not None]

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:  # noqa: ANN401  # eventsourcing's signature
        """``Application.save``, collecting the aggregates' events without Protocol checks.

        eventsourcing tests each saved object against two runtime-checkable Protocols,
        which Python 3.11 evaluates attribute by attribute: about 20 µs an aggregate, 3%
        of a batched ledger write. Aggregates (all the unit of work saves) are collected
        directly; anything else goes the library's way.
        """
        if not all(isinstance(obj, BaseAggregate) for obj in objs):
            return super().save(*objs, **kwargs)
        processing = ProcessingEvent[UUID]()
        for aggregate in objs:
            processing.events.extend(aggregate.collect_events())
            processing.aggregates[aggregate.id] = aggregate
        processing.saved_kwargs.update(kwargs)
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        self.notify(processing.events)  # as Application.save does (deprecated there)
        return recordings

    def notifications_head(self) -> int | None:
        """The last notification id the store handed out (``None``: a store in memory)."""
        recorder = self.recorder
        return recorder.notifications_head() if isinstance(recorder, LedgerRecorder) else None

    def stored_trace(self, aggregate_id: UUID, look_back: int = 20) -> str | None:
        """The ``traceparent`` of the aggregate's newest traced event (of its last few)."""
        for stored in self.recorder.select_events(aggregate_id, desc=True, limit=look_back):
            if self.transcoder.carries_record(stored.state):
                trace = self.transcoder.split(stored.state)[0].get("_trace")
                if isinstance(trace, str):
                    return trace
        return None

    def construct_transcoder(self) -> Transcoder:
        """Records as Avro bodies (see :mod:`infra.ledger.transcoder`)."""
        return self.transcoder

    def load_many(self, ids: Iterable[UUID]) -> dict[UUID, Any]:
        """Many aggregates at once: cached ones fast-forwarded, the rest replayed, one query.

        Returns private copies (safe to change); the shared cache keeps the stored state.
        """
        cache = self.repository.cache
        cached: dict[UUID, Any] = {}
        for aggregate_id in ids:  # copies: Repository.get fast-forwards cached ones in place
            try:
                found = cache.get(aggregate_id) if cache is not None else None
            except KeyError:
                found = None
            cached[aggregate_id] = None if found is None else copy.deepcopy(found)
        versions = {i: (a.version if a is not None else 0) for i, a in cached.items()}
        newer: dict[UUID, list[Any]] = {}
        for stored in self.recorder.select_newer(versions):  # type: ignore[attr-defined]  # LedgerRecorder
            newer.setdefault(stored.originator_id, []).append(self.mapper.to_domain_event(stored))
        loaded: dict[UUID, Any] = {}
        for aggregate_id, aggregate in cached.items():
            current = project_aggregate(aggregate, newer.get(aggregate_id, []))
            if current is None:
                continue
            if cache is not None and aggregate_id in newer:
                cache.put(aggregate_id, copy.deepcopy(current))
            loaded[aggregate_id] = current
        return loaded

    @contextmanager
    def batch(self, ctx: CommandContext, *, assume_new: bool = False) -> Iterator[Commands]:
        """Commands whose effects are saved together, in one transaction, at the end.

        If any command raises, nothing of the batch is saved.
        """
        uow = UnitOfWork(self)
        yield Commands(uow, ctx, assume_new=assume_new)
        uow.commit()

    def run(self, ctx: CommandContext, work: Callable[[Commands], T]) -> T:
        """Run ``work`` as one transaction, optimistically: proposals are assumed new.

        Saves a lookup per proposal. If one already existed, the store refuses the whole
        batch (unique aggregate version) and ``work`` runs again, checking each proposal,
        so a repeat still returns its original action (invariant 1).
        """
        try:
            with self.batch(ctx, assume_new=True) as tx:
                return work(tx)
        except IntegrityError:
            with self.batch(ctx) as tx:
                return work(tx)


def postgres_env(
    database_url: str, pool_size: int = 5, *, create_tables: bool = False
) -> dict[str, str]:
    """Eventsourcing's settings for the PostgreSQL at ``database_url`` (default insert mode).

    ``create_tables`` only where this role may own them: the deployment makes the tables
    and grants each service role its rights (:mod:`infra.stack.ledger_tables`).
    """
    params = conninfo_to_dict(database_url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(params.get("dbname", "")),
        "POSTGRES_HOST": str(params.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(params.get("port", "5432")),
        "POSTGRES_USER": str(params.get("user", "")),
        "POSTGRES_PASSWORD": str(params.get("password", "")),
        "POSTGRES_POOL_SIZE": str(pool_size),
        "CREATE_TABLE": "y" if create_tables else "n",
        "APPLICATION_RECORDER_TOPIC": "infra.ledger.recorder:LedgerRecorder",
        # Agents collect a reservation event per decision: keep loaded aggregates and only
        # fetch their newer events (fast-forward), instead of replaying every event again.
        "AGGREGATE_CACHE_MAXSIZE": "20000",
        "AGGREGATE_CACHE_FASTFORWARD": "y",
    }
