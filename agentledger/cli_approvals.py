"""`agentledger approvals | approve | reject | revoke | action` and the services behind them."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from agentledger.api.server import api_app
from agentledger.api.timeline import action_view
from agentledger.approvals import ApprovalDesk, Approver, Unauthenticated
from agentledger.bootstrap import (
    approval_desk,
    executor_service,
    expirer,
    ledger,
    observer,
)
from agentledger.cli_ledger import until_signalled
from agentledger.settings import Settings
from domain.errors import DomainError

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
TokenOption = Annotated[
    str, typer.Option("--token", envvar="AGENTLEDGER_TOKEN", help="Your approver token.")
]


def run_executor() -> None:
    """Execute authorized actions until SIGTERM/SIGINT (a standby if another is active)."""
    until_signalled(executor_service(Settings()).run)


def run_observer() -> None:
    """Observe every system's change feed until SIGTERM/SIGINT."""
    until_signalled(observer(Settings()).run)


def run_expirer() -> None:
    """Expire due approval requests until SIGTERM/SIGINT."""
    until_signalled(expirer(Settings()).run)


def run_api() -> None:
    """Serve the HTTP API (OpenAPI at /docs) on the api_host/api_port settings."""
    settings = Settings()
    app, _ = api_app(settings, ledger(settings, "api"))  # closed with the process
    uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_level="info")


def list_approvals(
    state: Annotated[str, typer.Option(help="pending, approved, rejected, expired, revoked")] = (
        "pending"
    ),
) -> None:
    """The approval queue as a table."""
    desk = approval_desk(Settings(), ledger(Settings()))
    table = Table("action", "agent", "resource", "type", "approvals", "roles", "expires")
    for row in desk.index.listing(state):
        table.add_row(
            str(row.action_id), row.agent_id, row.resource_key, row.action_type,
            f"{len(row.approved_by)}/{row.approvals_required}",
            ", ".join(row.approver_roles) or "any", row.expires_at.isoformat(timespec="seconds"),
        )  # fmt: skip
    out.print(table)


def _as_approver(token: str) -> tuple[ApprovalDesk, Approver]:
    desk = approval_desk(Settings(), ledger(Settings()))
    try:
        return desk, desk.identify(token)
    except Unauthenticated as exc:
        err.print(f"[red]refused[/]: {exc}")
        raise typer.Exit(3) from exc


def _refused(exc: Exception) -> typer.Exit:
    err.print(f"[red]refused[/] ({type(exc).__name__}): {exc}")
    return typer.Exit(4)


def approve(
    action_id: Annotated[UUID, typer.Argument(help="The action awaiting approval.")],
    token: TokenOption,
    version: Annotated[str | None, typer.Option(help="Resource version you saw.")] = None,
    comment: Annotated[str | None, typer.Option(help="A note kept with the approval.")] = None,
) -> None:
    """Approve an action, bound to its digest and the resource version seen."""
    desk, who = _as_approver(token)
    try:
        action = desk.approve(who, action_id, resource_version=version, comment=comment)
    except (DomainError, LookupError) as exc:
        raise _refused(exc) from exc
    out.print(f"approved by {who.name}: action {action_id} is {action.status}")


def reject(
    action_id: Annotated[UUID, typer.Argument(help="The action awaiting approval.")],
    token: TokenOption,
    reason: Annotated[str, typer.Option(help="Why.")],
) -> None:
    """Reject an action for good."""
    desk, who = _as_approver(token)
    try:
        action = desk.reject(who, action_id, reason)
    except (DomainError, LookupError) as exc:
        raise _refused(exc) from exc
    out.print(f"rejected by {who.name}: action {action_id} is {action.status}")


def revoke(
    action_id: Annotated[UUID, typer.Argument(help="The authorized or applied action.")],
    token: TokenOption,
    reason: Annotated[str, typer.Option(help="Why.")],
) -> None:
    """Revoke an authorization (after execution, a compensation is proposed)."""
    desk, who = _as_approver(token)
    try:
        action = desk.revoke(who, action_id, reason)
    except (DomainError, LookupError) as exc:
        raise _refused(exc) from exc
    out.print(f"revoked by {who.name}: action {action_id} is {action.status}")


def show_action(action_id: Annotated[UUID, typer.Argument(help="The action.")]) -> None:
    """An action's state and timeline."""
    try:
        view = action_view(ledger(Settings()), action_id)
    except LookupError as exc:
        raise _refused(exc) from exc
    out.print(f"{view.action_id} {view.resource} {view.action_type}: [bold]{view.status}[/]")
    for entry in view.timeline:
        out.print(f"  {entry['occurred_at']}  {entry['event']}")
