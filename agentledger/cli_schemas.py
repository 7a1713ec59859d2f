"""`agentledger schemas`: register, check and list the event contracts."""

from __future__ import annotations

from typing import Annotated

import typer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from rich.console import Console
from rich.table import Table

from agentledger.bootstrap import catalog, registrar
from agentledger.settings import Settings
from infra.serde.gate import check_contracts

app = typer.Typer(help="Register, check and list the Avro contracts.", no_args_is_help=True)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@app.command()
def register() -> None:
    """Register every contract under its record-name subject, rule BACKWARD_TRANSITIVE."""
    settings = Settings()
    try:
        ids = registrar(settings).register(catalog())
    except SchemaRegistryError as exc:
        err.print(
            f"[red]refused[/] {exc.error_message} (run `agentledger schemas check` for details)"
        )
        raise typer.Exit(1) from exc
    table = Table("subject", "schema id")
    for subject, schema_id in sorted(ids.items()):
        table.add_row(subject, str(schema_id))
    out.print(table)
    out.print(f"[green]registered {len(ids)} contracts[/] at {settings.registry}")


@app.command()
def check(
    offline: Annotated[
        bool, typer.Option(help="Skip the registry; check docs and git history only.")
    ] = False,
) -> None:
    """Fail if any contract lacks docs or cannot read data written by an earlier version."""
    settings = Settings()
    findings = check_contracts(catalog(), None if offline else registrar(settings))
    against = "git history" if offline else f"git history and {settings.registry}"
    if not findings:
        count = len(list(catalog()))
        out.print(f"[green]all {count} contracts are documented and compatible[/] ({against})")
        return
    table = Table("record", "against", "problem")
    for finding in findings:
        table.add_row(finding.record, finding.against, finding.problem)
    err.print(table)
    err.print(
        f"[red]{len(findings)} problem(s)[/]: a contract change must stay backward compatible"
    )
    raise typer.Exit(1)


@app.command("list")
def list_subjects() -> None:
    """Show the registry's subjects: versions, latest schema id, compatibility rule."""
    table = Table("subject", "versions", "latest id", "compatibility")
    for info in registrar(Settings()).subjects():
        table.add_row(
            info.subject,
            ", ".join(map(str, info.versions)),
            str(info.latest_id),
            info.compatibility,
        )
    out.print(table)
