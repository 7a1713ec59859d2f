"""`agentledger projector | replay`: keep the read models live, or rebuild them from Kafka."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeRemainingColumn

from agentledger.bootstrap import replay as rebuild_projection
from agentledger.settings import Settings
from projections.registry import PROJECTIONS

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def replay(
    projection: Annotated[
        str, typer.Option(help=f"One of {', '.join(PROJECTIONS)}, or all.")
    ] = "all",
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of", help="Only what happened up to this instant (ISO 8601, UTC if no zone)."
        ),
    ] = None,
) -> None:
    """Rebuild from offset 0 and switch in atomically; --as-of builds beside the live view."""
    settings = Settings()
    names = list(PROJECTIONS) if projection == "all" else [projection]
    if any(name not in PROJECTIONS for name in names):
        err.print(
            f"[red]unknown projection[/] {projection!r}; choose from {', '.join(PROJECTIONS)}, all"
        )
        raise typer.Exit(2)
    if as_of is not None and as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    for name in names:
        columns = (
            *Progress.get_default_columns()[:1],
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=out, transient=True) as bar:
            task = bar.add_task(f"rebuilding {name}", total=None)

            def advance(done: int, total: int, task: TaskID = task) -> None:
                bar.update(task, completed=done, total=total)

            result = rebuild_projection(settings, name, as_of, advance)
        rate = result.records / result.seconds if result.seconds else 0.0
        where = (
            "switched in"
            if result.switched
            else f"as of {as_of:%Y-%m-%dT%H:%M:%S%z}, beside the live view"
        )
        out.print(
            f"{name}: {result.records:,} records in {result.seconds:.1f} s ({rate:,.0f}/s), "
            f"{result.skipped} unreadable skipped; {where}; digest {result.digest}"
        )
