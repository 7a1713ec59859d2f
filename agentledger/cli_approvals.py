"""`agentledger action` and the services behind approvals: API, executor, observer, expirer."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console

from agentledger.api.timeline import action_view
from agentledger.bootstrap import (
    ledger,
)
from agentledger.settings import Settings

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _refused(exc: Exception) -> typer.Exit:
    err.print(f"[red]refused[/] ({type(exc).__name__}): {exc}")
    return typer.Exit(4)


def show_action(action_id: Annotated[UUID, typer.Argument(help="The action.")]) -> None:
    """An action's state and timeline."""
    try:
        view = action_view(ledger(Settings()), action_id)
    except LookupError as exc:
        raise _refused(exc) from exc
    out.print(f"{view.action_id} {view.resource} {view.action_type}: [bold]{view.status}[/]")
    for entry in view.timeline:
        out.print(f"  {entry['occurred_at']}  {entry['event']}")
