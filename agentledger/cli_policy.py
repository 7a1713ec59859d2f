"""`agentledger decider | plan | policy replay | policy input | agent register`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from agentledger.bootstrap import (
    decision_records,
    enroll_agent,
    ledger,
    policy_engine,
    system_context,
)
from agentledger.cli_agent_keys import key_app, operator_name
from agentledger.credentials import write_credential
from agentledger.settings import Settings
from agentledger.signing_keys import enroll_key, new_agent_key, pem
from consumers.decider.dry_run import PlanRefused, impact, plan
from domain.budget import BudgetPeriod
from domain.errors import DomainError
from domain.events import ActionProposed
from infra.policy.bundle import BundleError, load_bundle
from infra.policy.inputs import PolicyInput
from infra.policy.records import DecisionRow

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
policy_app = typer.Typer(help="Inspect decisions and try candidate bundles.", no_args_is_help=True)
agent_app = typer.Typer(help="The agent registry.", no_args_is_help=True)
agent_app.add_typer(key_app, name="key")


def run_plan(
    proposal_file: Annotated[
        Path, typer.Argument(help="ActionProposed as JSON (metadata optional).")
    ],
) -> None:
    """Dry run: the decision, reasons and obligations a proposal would get now; records nothing."""
    settings = Settings()
    raw = json.loads(proposal_file.read_text())
    raw.setdefault("metadata", {"event_id": str(UUID(int=0)), "correlation_id": str(UUID(int=0)),
                                "occurred_at": datetime.now(UTC).isoformat()})  # fmt: skip
    try:
        proposal = ActionProposed.model_validate(raw)
    except ValidationError as exc:
        err.print(f"[red]malformed proposal[/]: {exc}")
        raise typer.Exit(2) from exc
    the_ledger = ledger(settings)
    engine = policy_engine(load_bundle(settings.policy_bundle))
    try:
        result, policy_input = plan(
            the_ledger, decision_records(the_ledger), engine, proposal,
            now=datetime.now(UTC), history_limit=settings.policy_history_limit,
        )  # fmt: skip
    except PlanRefused as exc:
        out.print_json(json.dumps({"outcome": "rejected", "reason": str(exc)}))
        raise typer.Exit(1) from exc
    finally:
        the_ledger.close()
    document = {
        **result.model_dump(mode="json"), "bundle_digest": engine.digest,
        "bundle_version": engine.bundle.version, "input_digest": policy_input.digest,
    }  # fmt: skip
    out.print_json(json.dumps(document))


@policy_app.command("replay")
def replay(
    bundle: Annotated[Path, typer.Option("--bundle", help="The candidate bundle directory.")],
    show: Annotated[int, typer.Option(help="Flips to list (the summary counts all).")] = 50,
) -> None:
    """Re-evaluate every recorded decision against a candidate bundle; list what would flip."""
    settings = Settings()
    try:
        candidate = policy_engine(load_bundle(bundle))
    except BundleError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    the_ledger = ledger(settings)
    records = decision_records(the_ledger)
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("re-evaluating decisions", total=None)

        def counted() -> Iterator[tuple[DecisionRow, PolicyInput]]:
            for decided in records.all():
                progress.advance(task)
                yield decided

        found = impact(counted(), candidate)
    the_ledger.close()
    table = Table("action", "agent", "resource", "recorded", "candidate", "candidate reasons")
    for flip in found.flips[:show]:
        codes = ", ".join(reason.code for reason in flip.candidate.reasons)
        row = flip.row
        table.add_row(str(row.action_id), row.agent_id, row.resource_key, row.outcome,
                      flip.candidate.outcome.value, codes)  # fmt: skip
    if found.flips:
        out.print(table)
    typer.echo(json.dumps({"candidate": candidate.digest, **found.summary()}))  # one line, last


@policy_app.command("input")
def show_input(action_id: Annotated[UUID, typer.Argument(help="The decided action.")]) -> None:
    """Print the exact policy input a decision was based on, with its digest."""
    the_ledger = ledger(Settings())
    found = decision_records(the_ledger).decision(action_id)
    the_ledger.close()
    if found is None:
        err.print(f"[red]no recorded decision for {action_id}[/]")
        raise typer.Exit(1)
    row, policy_input = found
    out.print_json(json.dumps({
        "action_id": str(row.action_id), "outcome": row.outcome, "bundle_digest": row.bundle_digest,
        "input_digest": policy_input.digest, "input": policy_input.document,
    }))  # fmt: skip


def budget_limit(text: str) -> Decimal:
    """``text`` as a budget limit, or exit naming what is wrong with it."""
    try:
        limit = Decimal(text)
    except InvalidOperation:
        limit = Decimal("NaN")
    if not limit.is_finite() or limit < 0:
        err.print(f"[red]a budget is a decimal of at least 0, not {text!r}[/]")
        raise typer.Exit(2)
    return limit


@agent_app.command("register")
def register_agent(  # noqa: PLR0913, PLR0917  # typer: one parameter per command-line option
    agent_id: Annotated[str, typer.Argument(help="The agent's id.")],
    owner: Annotated[str, typer.Option(help="Who answers for the agent (never its approver).")],
    scope: Annotated[list[str], typer.Option(help="`*`, `system:*` or `system:action_type`.")],
    budget: Annotated[str, typer.Option(help="Budget limit per period (decimal).")] = "1000",
    period: Annotated[
        BudgetPeriod, typer.Option(help="The calendar period (UTC) the budget caps.")
    ] = BudgetPeriod.DAY,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    credential_file: Annotated[
        Path | None,
        typer.Option(help="Also write the agent's Kafka credential and API token (JSON) here."),
    ] = None,
) -> None:
    """Register an agent (no-op if it exists); give it a Kafka user, API token and signing key.

    The key is made on this host and kept in the deployment secrets (or the credential
    file); an agent that makes its own pair instead registers its public key with
    ``agentledger agent key add``.
    """
    settings = Settings()
    limit = budget_limit(budget)
    the_ledger = ledger(settings)
    try:
        with the_ledger.batch(system_context()) as tx:
            tx.register_agent(agent_id=agent_id, name=name or agent_id, owner=owner,
                              scopes=scope, budget_limit=limit, budget_period=period)  # fmt: skip
            kid = enroll_key(settings, tx, agent_id, operator_name())
    except DomainError as exc:  # e.g. this host's key of the agent was revoked
        err.print(f"[red]{exc}[/]: give the agent a new key with `agentledger agent key add`")
        raise typer.Exit(1) from exc
    finally:
        the_ledger.close()
    out.print(f"agent [cyan]{agent_id}[/] registered with scopes {scope}; it signs with {kid}")
    kafka, token = enroll_agent(settings, agent_id)
    out.print(f"its Kafka user is [cyan]{kafka.username}[/] (SASL/SCRAM-SHA-512, {kafka.protocol})")
    if credential_file is None:
        out.print(
            "its password, API token and signing key are in the deployment secrets, where the"
            " SDK on this host finds them"
        )
    else:
        write_credential(credential_file, kafka, token, pem(new_agent_key(settings, agent_id)))
        out.print(
            f"its Kafka credential, API token and signing key are in [cyan]{credential_file}[/]"
            " (mode 0600):"
            " hand it over"
        )
