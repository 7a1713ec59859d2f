"""`agentledger queue | timeline ACTION_ID`: pending approvals and action histories, from views."""

from __future__ import annotations

import json
from typing import Annotated, Any
from uuid import UUID

import psycopg
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agentledger.bootstrap import projection_store
from agentledger.settings import Settings
from infra.ledger.side_tables import policy_inputs_table
from projections.approvals import approval_queue
from projections.timeline import action_timeline

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
STATES = ("pending", "approved", "rejected", "expired", "revoked", "all")
SUMMARY_CHARS = 120


def show_queue(
    state: Annotated[str, typer.Option(help=f"One of {', '.join(STATES)}.")] = "pending",
    limit: Annotated[int, typer.Option(min=1, help="At most this many requests.")] = 100,
) -> None:
    """Approval requests (pending by default), oldest first, from the approvals projection."""
    if state not in STATES:
        err.print(f"[red]--state must be one of {', '.join(STATES)}[/], not {escape(state)!r}")
        raise typer.Exit(2)
    store = projection_store(Settings())
    try:
        with psycopg.connect(store.url) as conn:
            rows = approval_queue(
                conn, store.prefix, state=None if state == "all" else state, limit=limit
            )
    except psycopg.errors.UndefinedTable:
        err.print("no approvals view yet: run `agentledger projector` (or `agentledger replay`)")
        raise typer.Exit(1) from None
    table = Table(title=f"{state} approvals ({len(rows)})")
    for column in ("requested", "action", "agent", "resource", "type", "approvals", "roles"):
        table.add_column(column, overflow="fold")
    table.add_column("expires" if state == "pending" else "state", overflow="fold")
    for row in rows:
        cells = [
            f"{row.requested_at:%Y-%m-%d %H:%M:%S}", str(row.action_id), row.agent_id,
            row.resource_key, row.action_type,
            f"{len(row.approved_by)}/{row.approvals_required} {', '.join(row.approved_by)}",
            ", ".join(row.approver_roles) or "-",
            f"{row.expires_at:%Y-%m-%d %H:%M:%S}" if state == "pending" else row.state,
        ]  # fmt: skip
        table.add_row(*(escape(cell) for cell in cells))
    out.print(table)


def show_timeline(
    action_id: Annotated[UUID, typer.Argument(help="The action's id.")],
    inputs: Annotated[
        bool, typer.Option("--inputs", help="Also print each decision's full policy input.")
    ] = False,
) -> None:
    """Every event of an action in order, from the timeline projection."""
    settings = Settings()
    store = projection_store(settings)
    try:
        with psycopg.connect(store.url) as conn:
            entries = action_timeline(
                conn, store.prefix, action_id,
                inputs_table=policy_inputs_table(settings.ledger_name) if inputs else None,
            )  # fmt: skip
    except psycopg.errors.UndefinedTable:
        err.print("no timeline view yet: run `agentledger projector` (or `agentledger replay`)")
        raise typer.Exit(1) from None
    if not entries:
        err.print(f"no events for action {action_id} in the timeline view")
        raise typer.Exit(1)
    table = Table(title=f"action {action_id} ({len(entries)} events)")
    for column in ("time", "event", "details"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        details = _summary(entry.data)
        if entry.input_digest is not None:
            details = f"input {entry.input_digest[:12]}; {details}"
        cells = (f"{entry.occurred_at:%Y-%m-%d %H:%M:%S.%f}"[:-3], entry.event, details)
        table.add_row(*(escape(cell) for cell in cells))
    out.print(table)
    for entry in entries:
        if inputs and entry.input is not None:
            out.print(f"{entry.event} input {entry.input_digest}:", markup=False)
            out.print(json.dumps(entry.input, indent=2, sort_keys=True), markup=False)


def _summary(data: dict[str, Any]) -> str:
    """The event's fields on one line (not its action id), cut at ``SUMMARY_CHARS``."""
    shown = {k: v for k, v in data.items() if k != "action_id" and v not in (None, [], {})}
    line = " ".join(f"{k}={json.dumps(v, sort_keys=True, default=str)}" for k, v in shown.items())
    return line if len(line) <= SUMMARY_CHARS else line[: SUMMARY_CHARS - 1] + "…"
