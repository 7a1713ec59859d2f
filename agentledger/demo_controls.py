"""The demo's operator scenario: a kill switch pulled mid-run, an emergency stop and resume.

An agent works on a contact; an operator (signed in through the local issuer, role
``operator``) suspends it while an approval is pending, reinstates it, then stops the
whole fleet while the agent proposes and lifts the stop. Every control goes through the
HTTP API and is printed back from the audit, with who pulled it and why.
"""

from __future__ import annotations

import uuid
from contextlib import closing
from datetime import timedelta
from decimal import Decimal
from typing import Any

from rich.console import Console

from agentledger.approver_client import ApiRefused, ApproverClient
from agentledger.bootstrap import connectors, enroll_agent, ledger, system_context, wall_clock
from agentledger.client import Client, DecisionTimeout
from agentledger.local_issuer import LocalIssuer
from agentledger.services import wait_until
from agentledger.settings import Settings
from agentledger.signing_keys import enroll_key
from domain.action_state import Status
from domain.values import ResourceRef
from infra.connectors.base import Mutation, Operation
from infra.ledger.ledger import Ledger

AGENT = f"demo-ops-bot-{uuid.uuid4().hex[:6]}"
"""One per demo run: its day's budget is the demo's alone, however often the demo runs."""
TIMEOUT_S = 90.0
WAIT_UNDER_STOP_S = 3.0


def run_controls(settings: Settings, issuer: LocalIssuer, out: Console) -> bool:
    """Run the scenario; True if each control had its effect (signed in through ``issuer``)."""
    the_ledger, systems = ledger(settings), connectors(settings)
    contact = ResourceRef(system="crm", type="contact", id=f"demo-ops-{uuid.uuid4().hex[:6]}")
    seed = Mutation(contact, Operation.UPSERT, {"name": "Grace", "tier": "silver"})
    systems["crm"].apply(seed, f"seed-{contact.key}", None)
    try:
        with the_ledger.batch(system_context()) as tx:
            tx.register_agent(agent_id=AGENT, name=AGENT, owner="demo-ops-owner",
                              scopes=["crm:*"], budget_limit=Decimal(50))  # fmt: skip
            enroll_key(settings, tx, AGENT, "demo")
        enroll_agent(settings, AGENT)
        now, hour = wall_clock(), timedelta(hours=1)
        operator_token = issuer.mint("demo-operator", ["operator"], now, hour)
        approver_token = issuer.mint("demo-approver", ["reviewer"], now, hour)
        with (
            Client(AGENT, settings) as agent,
            closing(ApproverClient(settings.api, operator_token)) as ops,
            closing(ApproverClient(settings.api, approver_token)) as desk,
        ):
            out.print(f"[bold]13.[/] operator controls: {AGENT} (budget 50 a day) works on"
                      f" {contact.key}; demo-operator has the role operator")  # fmt: skip
            return _scenario(the_ledger, agent, ops=ops, desk=desk, contact=contact, out=out)
    finally:
        systems.close()
        the_ledger.close()


def _scenario(  # noqa: PLR0913  # the actors of the scenario
    the_ledger: Ledger, agent: Client, *, ops: ApproverClient, desk: ApproverClient,
    contact: ResourceRef, out: Console,
) -> bool:  # fmt: skip
    first = agent.propose(
        resource=contact, action_type="contact.update", idempotency_key=f"{contact.id}-ops-1",
        parameters={"tier": "gold"}, estimated_cost=20,
    )  # fmt: skip
    out.print(f"   a first change: [bold]{agent.wait_for_decision(first, TIMEOUT_S).outcome}[/]")
    ops.call("POST", f"/agents/{AGENT}/suspend", json={"reason": "it retries in a loop"})
    out.print(f"   demo-operator [red]suspended[/] {AGENT} while the change awaits approval")
    try:
        desk.decide("approve", first.action_id, {})
        refused = "approved (it should not have been)"
    except ApiRefused as exc:
        refused = f"refused ({exc.code})"
    out.print(f"   the approver approves it: [bold]{refused}[/]")
    second = agent.propose(
        resource=contact, action_type="contact.update", idempotency_key=f"{contact.id}-ops-2",
        parameters={"tier": "platinum"},
    )  # fmt: skip
    suspended = agent.wait_for_decision(second, TIMEOUT_S)
    codes = ", ".join(r.code for r in suspended.reasons)
    out.print(f"   it proposes again while suspended: [bold]{suspended.outcome}[/] ({codes})")
    ops.call("POST", f"/agents/{AGENT}/reinstate", json={"reason": "retry loop fixed"})
    desk.decide("approve", first.action_id, {})
    wait_until(the_ledger, first.action_id, {Status.APPLIED}, TIMEOUT_S)
    out.print("   reinstated; approved again: [bold]applied[/]")
    ops.call("POST", "/fleet/stop", json={"reason": "incident drill"})
    out.print("   demo-operator pulled the [red]emergency stop[/]: "
              f"{ops.call('GET', '/fleet')['reason']}")  # fmt: skip
    third = agent.propose(
        resource=contact, action_type="contact.update", idempotency_key=f"{contact.id}-ops-3",
        parameters={"phone": "555 0142"}, estimated_cost=20,
    )  # fmt: skip
    try:
        agent.wait_for_decision(third, WAIT_UNDER_STOP_S)
        waited = False
    except DecisionTimeout:
        waited = True
    out.print(f"   a proposal under the stop: {'waits, undecided' if waited else 'DECIDED'}"
              f" after {WAIT_UNDER_STOP_S:.0f} s")  # fmt: skip
    ops.call("POST", "/fleet/resume", json={"reason": "drill over"})
    resumed = agent.wait_for_decision(third, TIMEOUT_S)
    wait_until(the_ledger, third.action_id, {Status.APPLIED}, TIMEOUT_S)
    out.print(f"   resumed: the waiting proposal is [bold]{resumed.outcome}[/], and applied")
    _print_agent(ops.call("GET", f"/agents/{AGENT}"), ops.call("GET", "/controls"), out)
    return waited and refused.startswith("refused") and suspended.outcome == "deny"


def _print_agent(shown: dict[str, Any], audit: list[dict[str, Any]], out: Console) -> None:
    for period in shown["budget"]:
        limit = period["limit"] or "no limit"
        out.print(f"   {AGENT} {period['period']} {period['window']}: spent {period['settled']},"
                  f" reserved {period['reserved']}, limit {limit}", markup=False)  # fmt: skip
    out.print("   the audit of controls (`agentledger audit controls`):")
    for entry in audit:
        if entry["by"] == "demo-operator":
            out.print(f"     {entry['at']}  {entry['control']} by {entry['by']}: {entry['reason']}",
                      markup=False)  # fmt: skip
