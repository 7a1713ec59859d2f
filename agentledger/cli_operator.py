"""An operator's controls, through the HTTP API with the operator's own token.

`agentledger agent suspend|reinstate|scopes|budget|show|list`, `stop-all`, `resume-all`
and `audit controls`. The token comes from ``AGENTLEDGER_APPROVER_TOKEN`` or
``AGENTLEDGER_APPROVER_TOKEN_FILE``; the API refuses every control to a token without
the role ``operator``, and records the operator's identity and reason with each one.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from agentledger.cli_approver import answer, approver_api
from domain.budget import BudgetPeriod

out = Console(highlight=False)
Agent = Annotated[str, typer.Argument(help="The agent.")]
Reason = Annotated[str, typer.Option(help="Why (recorded with who you are).")]


def suspend(agent_id: Agent, reason: Reason) -> None:
    """Pull an agent's kill switch: nothing new is authorized or started for it."""
    _show(_control("POST", f"/agents/{agent_id}/suspend", {"reason": reason}))


def reinstate(agent_id: Agent, reason: Reason) -> None:
    """Release an agent's kill switch: its held actions start, new ones are decided."""
    _show(_control("POST", f"/agents/{agent_id}/reinstate", {"reason": reason}))


def scopes(
    agent_id: Agent,
    scope: Annotated[list[str], typer.Option(help="`*`, `system:*` or `system:action_type`.")],
    reason: Reason,
) -> None:
    """Replace an agent's scopes."""
    _show(_control("PUT", f"/agents/{agent_id}/scopes", {"scopes": scope, "reason": reason}))


def budget(
    agent_id: Agent,
    limit: Annotated[str, typer.Option(help="The new limit (decimal, at least 0).")],
    reason: Reason,
    period: Annotated[BudgetPeriod, typer.Option(help="The period it caps (UTC).")] = (
        BudgetPeriod.DAY
    ),
) -> None:
    """Set the limit of one of an agent's budget periods."""
    body = {"limit": limit, "period": period.value, "reason": reason}
    _show(_control("PUT", f"/agents/{agent_id}/budget", body))


def show(agent_id: Agent) -> None:
    """An agent: scopes, kill switch, spend and limit per period, and every control on it."""
    found = _control("GET", f"/agents/{agent_id}", None)
    _show(found)
    table = Table("at", "control", "by", "reason", "detail", title="controls")
    for entry in found.get("controls") or []:
        table.add_row(
            *(Text(str(entry[k] or "")) for k in ("at", "control", "by", "reason", "detail"))
        )
    out.print(table)


def listing() -> None:
    """Every registered agent, with its kill switch and today's spend."""
    table = Table("agent", "owner", "suspended", "scopes", "spend (day)", "spend (month)")
    for agent in _control("GET", "/agents", None):
        day, month = (_spend(period) for period in agent["budget"])
        table.add_row(*(Text(str(cell)) for cell in (
            agent["agent_id"], agent["owner"], "yes" if agent["suspended"] else "no",
            ", ".join(agent["scopes"]), day, month,
        )))  # fmt: skip
    out.print(table)


def stop_all(reason: Reason) -> None:
    """Emergency stop: nothing new is authorized or started for any agent until resumed."""
    _show_fleet(_control("POST", "/fleet/stop", {"reason": reason}))


def resume_all(reason: Reason) -> None:
    """Lift the emergency stop: waiting proposals are decided, held actions start."""
    _show_fleet(_control("POST", "/fleet/resume", {"reason": reason}))


def audit_controls(
    agent_id: Annotated[str | None, typer.Option("--agent", help="Only this agent's.")] = None,
) -> None:
    """Every control pulled (suspensions, scopes, budgets, keys, stops): when, who, why."""
    params = {} if agent_id is None else {"agent": agent_id}
    with approver_api() as api:
        found = answer(lambda: api.call("GET", "/controls", params=params))
    table = Table("at", "control", "subject", "by", "reason", "detail")
    for entry in found:
        cells = ("at", "control", "subject", "by", "reason", "detail")
        table.add_row(*(Text(str(entry[k] or "")) for k in cells))
    out.print(table)


def _control(method: str, url: str, body: dict[str, Any] | None) -> Any:  # noqa: ANN401  # JSON
    with approver_api() as api:
        return answer(lambda: api.call(method, url, json=body))


def _spend(period: dict[str, Any]) -> str:
    limit = "no limit" if period["limit"] is None else f"of {period['limit']}"
    return f"{period['settled']} + {period['reserved']} reserved {limit}"


def _show(agent: dict[str, Any]) -> None:
    state = "[red]suspended[/]" if agent["suspended"] else "[green]active[/]"
    out.print(f"agent [cyan]{agent['agent_id']}[/] (owner {agent['owner']}): {state}")
    out.print(f"  scopes: {', '.join(agent['scopes']) or '(none)'}")
    for period in agent["budget"]:
        out.print(f"  {period['period']} {period['window']}: {_spend(period)}", markup=False)


def _show_fleet(fleet: dict[str, Any]) -> None:
    if fleet["stopped"]:
        out.print(f"[red]emergency stop[/] since {fleet['since']} by {fleet['by']}: "
                  f"{fleet['reason']}")  # fmt: skip
    else:
        out.print("[green]running[/]: no emergency stop holds")
