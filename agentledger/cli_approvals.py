"""`agentledger action` and the services behind approvals: API, executor, observer, expirer."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer
import uvicorn
from rich.console import Console

from agentledger.api.server import api_app
from agentledger.api.timeline import action_view
from agentledger.bootstrap import (
    executor_service,
    expirer,
    ledger,
    observer,
)
from agentledger.cli_ledger import until_signalled
from agentledger.settings import Settings

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


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
    uvicorn.run(
        app, host=settings.api_host, port=settings.api_port, log_level="info",
        proxy_headers=False,  # failed logins count on the peer's address, never a header
    )  # fmt: skip


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
