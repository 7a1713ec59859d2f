"""`agentledger approvals | approve | reject | revoke`: an approver's calls to the HTTP API.

The token comes from ``AGENTLEDGER_APPROVER_TOKEN`` or the file named by
``AGENTLEDGER_APPROVER_TOKEN_FILE``, never from a command-line argument (``ps`` shows
those). The CLI holds no approver list: the API's settings say whose token it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from agentledger.approver_client import ApiRefused, ApiUnreachable, ApproverClient, read_token
from agentledger.settings import Settings

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
Reason = Annotated[str, typer.Option(help="Why.")]
Action = Annotated[UUID, typer.Argument(help="The action.")]
T = TypeVar("T")


def list_approvals(
    state: Annotated[str, typer.Option(help="pending, approved, rejected, expired, revoked")] = (
        "pending"
    ),
) -> None:
    """The approval queue as a table."""
    table = Table("action", "agent", "resource", "type", "approvals", "roles", "expires")
    with approver_api() as api:
        rows = answer(lambda: api.listing(state))
    for row in rows:  # cells as text: an agent chooses the resource id, never our markup
        table.add_row(*(Text(str(cell)) for cell in (
            row["action_id"], row["agent_id"], row["resource"], row["action_type"],
            f"{len(row['approved_by'])}/{row['approvals_required']}",
            ", ".join(row["approver_roles"]) or "any", row["expires_at"],
        )))  # fmt: skip
    out.print(table)


def approve(
    action_id: Action,
    version: Annotated[str | None, typer.Option(help="Resource version you saw.")] = None,
    comment: Annotated[str | None, typer.Option(help="A note kept with the approval.")] = None,
) -> None:
    """Approve an action, bound to its digest and the resource version seen."""
    body = {"resource_version": version, "comment": comment}
    _decide("approve", action_id, body, lambda done: f"approval request is {done['state']}")


def reject(action_id: Action, reason: Reason) -> None:
    """Reject an action for good."""
    body = {"reason": reason}
    _decide("reject", action_id, body, lambda done: f"approval request is {done['state']}")


def revoke(action_id: Action, reason: Reason) -> None:
    """Revoke an authorization (after execution, a compensation is proposed)."""
    _decide("revoke", action_id, {"reason": reason}, lambda done: f"action is {done['status']}")


def _decide(
    verb: str, action: UUID, body: dict[str, Any], outcome: Callable[[dict[str, Any]], str]
) -> None:
    with approver_api() as api:
        done = answer(lambda: api.decide(verb, action, body))
    out.print(f"{verb}: {action}: {outcome(done)}")


@contextmanager
def approver_api() -> Iterator[ApproverClient]:
    """The API, called with the approver's (or operator's) token from the environment."""
    settings = Settings()
    token = settings.approver_token.get_secret_value() if settings.approver_token else None
    if token is None and settings.approver_token_file is not None:
        try:
            token = read_token(settings.approver_token_file)
        except (OSError, ValueError) as exc:
            err.print(f"[red]error[/]: AGENTLEDGER_APPROVER_TOKEN_FILE: {exc}")
            raise typer.Exit(2) from exc
    if token is None:
        err.print(
            "[red]error[/]: no approver token: set AGENTLEDGER_APPROVER_TOKEN, or"
            " AGENTLEDGER_APPROVER_TOKEN_FILE to a file holding it"
        )
        raise typer.Exit(2)
    api = ApproverClient(settings.api, token)
    try:
        yield api
    finally:
        api.close()


def answer(call: Callable[[], T]) -> T:
    """``call``'s result; a refusal or an unreachable API exits with the reason."""
    try:
        return call()
    except ApiRefused as exc:
        err.print(f"[red]refused[/]: {exc}")
        raise typer.Exit(3 if exc.status in {401, 403, 429} else 4) from exc
    except ApiUnreachable as exc:
        err.print(f"[red]error[/]: {exc}")
        raise typer.Exit(1) from exc
