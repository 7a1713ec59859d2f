"""`agentledger relay` and `agentledger audit`: run the relay, verify the hash chains."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from agentledger.bootstrap import audit_store, audit_topic
from agentledger.settings import Settings

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
audit_app = typer.Typer(help="Verify the ledger's tamper evidence.", no_args_is_help=True)


@audit_app.command()
def verify(
    store: Annotated[
        bool, typer.Option("--store", help="Walk the event store's per-aggregate chains.")
    ] = False,
    topic: Annotated[
        str | None, typer.Option("--topic", help="Walk a topic's per-partition chains.")
    ] = None,
) -> None:
    """Report every record deleted, cut, modified, re-sealed, inserted, reordered or forged."""
    settings = Settings()
    if not store and topic is None:
        store = True
    failures = 0
    if store:
        result = audit_store(settings)
        out.print(
            f"store: {result.checked} events checked against their seals, their chains and"
            f" {result.basis}"
        )
        failures += _report(result.findings)
    if topic is not None:
        result = audit_topic(settings, topic)
        out.print(f"topic {topic}: {result.checked} records checked")
        failures += _report(result.findings)
    if failures:
        raise typer.Exit(1)
    out.print("[green]every link holds[/]")


def _report(findings: list[str]) -> int:
    """Print each finding; how many there were."""
    for finding in findings:
        err.print(f"[red]broken[/] {finding}", markup=True, highlight=False)
    return len(findings)
