"""The `agentledger` command line."""

from __future__ import annotations

import time
from typing import Annotated

import httpx
import psycopg
import typer
from confluent_kafka import KafkaException
from confluent_kafka.schema_registry.error import SchemaRegistryError
from eventsourcing.persistence import PersistenceError
from rich.console import Console
from rich.table import Table

from agentledger import cli_operator
from agentledger.bootstrap import build_stack, deploy, ledger, relay_lag, system_context
from agentledger.cli_approvals import show_action
from agentledger.cli_approver import approve, list_approvals, reject, revoke
from agentledger.cli_drift import drift_app
from agentledger.cli_ledger import audit_app
from agentledger.cli_policy import agent_app, policy_app, run_plan
from agentledger.cli_queries import show_queue, show_timeline
from agentledger.cli_run import run, run_endpoint
from agentledger.cli_schemas import app as schemas_app
from agentledger.cli_services import (
    run_api,
    run_decider,
    run_executor,
    run_expirer,
    run_observer,
    run_projector,
    run_reconciler,
    run_relay,
)
from agentledger.cli_views import replay
from agentledger.credentials import database_refusal, kafka_refusal
from agentledger.settings import Settings
from consumers.relay.position_check import PositionRefused
from domain.fleet import describe_stop
from infra.runtime import tune_garbage_collector
from infra.serde.registrar import ContractsMissing, WritesRefused
from infra.stack.component import ComponentStatus
from infra.stack.errors import StackError

app = typer.Typer(
    help="agentledger: the governed-action ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(schemas_app, name="schemas")
app.add_typer(audit_app, name="audit")
app.command("run")(run)
app.command("run-endpoint", hidden=True)(run_endpoint)
app.command("relay")(run_relay)
app.command("decider")(run_decider)
app.command("plan")(run_plan)
app.add_typer(policy_app, name="policy")
app.add_typer(agent_app, name="agent")
app.command("executor")(run_executor)
app.command("observer")(run_observer)
app.command("reconciler")(run_reconciler)
app.add_typer(drift_app, name="drift")
app.command("expirer")(run_expirer)
app.command("api")(run_api)
app.command("approvals")(list_approvals)
app.command("approve")(approve)
app.command("reject")(reject)
app.command("revoke")(revoke)
app.command("action")(show_action)
app.command("stop-all")(cli_operator.stop_all)
app.command("resume-all")(cli_operator.resume_all)
agent_app.command("suspend")(cli_operator.suspend)
agent_app.command("reinstate")(cli_operator.reinstate)
agent_app.command("scopes")(cli_operator.scopes)
agent_app.command("budget")(cli_operator.budget)
agent_app.command("show")(cli_operator.show)
agent_app.command("list")(cli_operator.listing)
audit_app.command("controls")(cli_operator.audit_controls)
app.command("projector")(run_projector)
app.command("replay")(replay)
app.command("queue")(show_queue)
app.command("timeline")(show_timeline)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _progress(line: str) -> None:
    out.print(f"[dim]…[/] {line}")


@app.command()
def up() -> None:
    """Start the local stack, create the topics, register the contracts; no-op if done."""
    started_at = time.monotonic()
    try:
        result, contracts = deploy(Settings(), _progress)
    except SchemaRegistryError as exc:
        err.print(f"[red]a contract was refused[/] {exc.error_message}"
                  " (run `agentledger schemas check` for details)", soft_wrap=True)  # fmt: skip
        raise typer.Exit(1) from exc
    elapsed = time.monotonic() - started_at
    if not result.started and not result.topics_created:
        out.print(f"[green]stack already up[/], {len(contracts)} contracts registered"
                  f" (checked in {elapsed:.2f}s)")  # fmt: skip
        return
    for name in result.started:
        out.print(f"[green]started[/] {name}")
    if result.topics_created:
        out.print(f"[green]created topics[/] {', '.join(result.topics_created)}")
    out.print(f"[green]registered[/] {len(contracts)} contracts")
    out.print(f"[green]stack up[/] in {elapsed:.1f}s")


@app.command()
def down() -> None:
    """Stop what the project started (external components are never touched)."""
    stopped = build_stack(Settings(), _progress).down()
    out.print(f"stopped {', '.join(stopped)}" if stopped else "nothing of ours was running")


@app.command()
def status(
    strict: Annotated[bool, typer.Option(help="Exit 1 if any component is unhealthy.")] = False,
) -> None:
    """Show each component: address, pid, health, version, log."""
    rows = build_stack(Settings(), _progress).status()
    table = Table("component", "address", "pid", "healthy", "version", "log")
    for column in table.columns:
        column.overflow = "fold"  # wrap long paths and URLs, never hide them
    for row in rows:
        health = "[green]yes[/]" if row.healthy else f"[red]no[/] [dim]{row.problem or ''}[/]"
        where = "external" if row.external else str(row.log or "")
        table.add_row(row.name, row.address, str(row.pid or "-"), health, row.version, where)
    out.print(table)
    _print_relay_lag(rows)
    if strict and not all(row.healthy for row in rows):
        raise typer.Exit(1)


def _print_relay_lag(rows: list[ComponentStatus]) -> None:
    """relay_lag: notifications in the store not yet committed to Kafka (needs the stack)."""
    if not all(row.healthy for row in rows):
        out.print("relay_lag: unknown (stack not healthy)")
        return
    settings = Settings()
    the_ledger = ledger(settings)
    try:
        out.print(f"relay_lag: {relay_lag(settings, the_ledger)} notifications not yet on Kafka")
        with the_ledger.batch(system_context()) as tx:
            fleet = tx.fleet()
    finally:
        the_ledger.close()
    if fleet is not None and fleet.stop is not None:
        out.print(f"[red]emergency stop[/]: {describe_stop(fleet.stop)}")
    else:
        out.print("emergency stop: none (agents' proposals are decided and executed)")


@app.command()
def demo() -> None:
    """Run the demo scenario against the running stack, printing each step."""
    from agentledger.demo import run_governed  # noqa: PLC0415  # demo deps load only when asked
    from agentledger.demo_audit import run_audit  # noqa: PLC0415
    from agentledger.demo_controls import run_controls  # noqa: PLC0415
    from agentledger.demo_drift import run_drift  # noqa: PLC0415
    from agentledger.demo_flow import run_flow  # noqa: PLC0415
    from agentledger.demo_services import demo_services  # noqa: PLC0415
    from agentledger.services import with_own_api_port  # noqa: PLC0415
    from agentledger.smoke import run_smoke  # noqa: PLC0415

    settings = with_own_api_port(Settings())  # its API never meets one already running
    run_smoke(settings, out)
    with demo_services(settings, out) as (demo_settings, issuer, run):
        run_governed(demo_settings, out)
        run_flow(demo_settings, issuer, out)
        counts = run_drift(demo_settings, run, out)
        controlled = run_controls(demo_settings, issuer, out)
    audited = run_audit(settings, out)
    if not all(counts.values()) or not audited or not controlled:
        raise typer.Exit(1)


def main() -> None:
    """Entry point: stack errors are reported in one clear line, not a traceback."""
    tune_garbage_collector()
    try:
        app()
    except (StackError, ContractsMissing, WritesRefused, PositionRefused) as exc:
        err.print(f"[red]error[/] {exc}", soft_wrap=True)
        raise SystemExit(1) from None
    except KafkaException as exc:  # fatal for this client, e.g. fenced out of its group
        err.print(f"[red]error[/] {kafka_refusal(exc, Settings())}", soft_wrap=True)
        raise SystemExit(1) from None
    except (psycopg.Error, PersistenceError) as exc:  # e.g. a wrong password, a refused grant
        err.print(f"[red]error[/] {database_refusal(exc, Settings())}", soft_wrap=True)
        raise SystemExit(1) from None
    except httpx.HTTPStatusError as exc:  # it answered, so it is up: say what it answered
        refusal = f"{exc.response.status_code} {exc.response.text[:500]}"
        err.print(
            f"[red]error[/] {exc.request.method} {exc.request.url}: {refusal}", soft_wrap=True
        )
        raise SystemExit(1) from None
    except (httpx.HTTPError, OSError) as exc:
        err.print(f"[red]error[/] cannot reach a component: {exc}; is the stack up? (`make up`)")
        raise SystemExit(1) from None
