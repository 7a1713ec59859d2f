"""`agentledger reconciler | drift | drift watch`: run the reconciler, list and tail drift."""

from __future__ import annotations

import signal
import time
import uuid
from types import FrameType
from typing import Annotated

import psycopg
import typer
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agentledger.bootstrap import projection_store, topic_serdes
from agentledger.credentials import kafka_access
from agentledger.settings import Settings
from domain.events import DriftDetected, DriftResolved
from infra.batches import ready_batch
from infra.kafka_acls import OPERATOR
from infra.kafka_config import client_config
from infra.serde.errors import BadRecord
from projections.drift import drift_alerts

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
drift_app = typer.Typer(help="Drift between what we believe and what the systems show.")


@drift_app.callback(invoke_without_command=True)
def drift(
    ctx: typer.Context,
    system: Annotated[str | None, typer.Option(help="Only this system, e.g. crm.")] = None,
    drift_class: Annotated[
        str | None, typer.Option("--class", help="Only this class, e.g. out_of_band_change.")
    ] = None,
    severity: Annotated[str | None, typer.Option(help="info, warning or critical.")] = None,
    status: Annotated[str, typer.Option(help="open, resolved or all.")] = "open",
) -> None:
    """Drift alerts as a table (open ones by default), from the drift projection."""
    if ctx.invoked_subcommand is not None:
        return
    if status not in {"open", "resolved", "all"}:
        err.print(f"[red]--status must be open, resolved or all[/], not {status!r}")
        raise typer.Exit(2)
    settings = Settings()
    store = projection_store(settings)
    try:
        with psycopg.connect(store.url) as conn:
            rows = drift_alerts(
                conn, store.prefix, status=status, system=system, drift_class=drift_class,
                severity=severity,
            )  # fmt: skip
    except psycopg.errors.UndefinedTable:
        err.print("no drift view yet: run `agentledger projector` (or `agentledger replay`)")
        raise typer.Exit(1) from None
    table = Table(title=f"{status} drift ({len(rows)})")
    for column in ("detected", "class", "severity", "resource", "fields", "explanation"):
        table.add_column(column, overflow="fold")
    if status != "open":
        table.add_column("resolved")
    for row in rows:
        cells = [
            f"{row.detected_at:%Y-%m-%d %H:%M:%S}", row.drift_class, row.severity,
            row.resource_key, ", ".join(str(f["field"]) for f in row.fields) or "-",
            row.explanation,
        ]  # fmt: skip
        if status != "open":
            cells.append(row.resolution or "open")
        table.add_row(*(escape(cell) for cell in cells))
    out.print(table)


@drift_app.command()
def watch(
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Start at the first alert, not the end.")
    ] = False,
    max_events: Annotated[
        int | None, typer.Option(help="Stop after this many alert events.")
    ] = None,
    timeout_s: Annotated[
        float | None, typer.Option("--timeout", help="Stop after this many seconds.")
    ] = None,
) -> None:
    """Tail drift.v1: one line per alert detected or resolved (until Ctrl-C)."""
    settings = Settings()
    serde = topic_serdes(settings, "drift.v1")["drift.v1"]
    consumer = Consumer(client_config(kafka_access(settings, OPERATOR), {
        "group.id": f"drift-watch-{uuid.uuid4()}",
        "enable.auto.commit": False, "isolation.level": "read_committed",
    }))  # fmt: skip
    start = OFFSET_BEGINNING if from_beginning else OFFSET_END
    consumer.assign([TopicPartition(serde.topic, p, start) for p in range(settings.partitions)])
    stopping = False

    def stop(_signal: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    seen = 0
    err.print(f"watching {serde.topic} (Ctrl-C to stop)")
    try:
        while not stopping and (deadline is None or time.monotonic() < deadline):
            for message in ready_batch(consumer, 100, 0.5):
                if message.error() is not None:
                    continue
                try:
                    record = serde.read_message(message)
                except BadRecord as exc:
                    err.print(f"[yellow]unreadable record at {message.offset()}[/]: {exc}")
                    continue
                out.print(_line(record), markup=False)
                seen += 1
                if max_events is not None and seen >= max_events:
                    return
    finally:
        consumer.close()


def _line(record: object) -> str:
    if isinstance(record, DriftDetected):
        at = f"{record.metadata.occurred_at:%H:%M:%S}"
        return (
            f"{at} DETECTED {record.drift_class.value} [{record.severity.value}]"
            f" {record.resource.key} {record.alert_id}: {record.explanation}"
        )
    if isinstance(record, DriftResolved):
        at = f"{record.metadata.occurred_at:%H:%M:%S}"
        return f"{at} RESOLVED {record.resource.key} {record.alert_id}: {record.resolution}"
    return f"{type(record).__name__}"
