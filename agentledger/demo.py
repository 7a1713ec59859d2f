"""The demo's governed scenario: an agent proposes, policy decides, every answer explained.

Runs the relay and the decider in this process, registers a demo agent, proposes five
actions through the SDK and prints each decision with its reasons and obligations.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from rich.console import Console

from agentledger.bootstrap import decider_service, enroll_agent, ledger, relay, system_context
from agentledger.client import Client, Decision
from agentledger.services import answering, running
from agentledger.settings import Settings
from agentledger.signing_keys import enroll_key
from infra.ledger.ledger import Ledger

AGENT = "demo-agent"
TIMEOUT_S = 60.0


def run_governed(settings: Settings, out: Console) -> list[Decision]:
    """Propose the scenario's actions and print what the ledger decided about each."""
    the_ledger = ledger(settings)
    try:
        with the_ledger.batch(system_context()) as tx:
            tx.register_agent(agent_id=AGENT, name="Demo agent", owner="demo-owner",
                              scopes=["crm:*"], budget_limit=Decimal(100))  # fmt: skip
            enroll_key(settings, tx, AGENT, "demo")
        out.print(f"[bold]5.[/] registered [cyan]{AGENT}[/] (scopes crm:*, budget 100)")
        enroll_agent(settings, AGENT)
        with _services(settings, the_ledger), Client(AGENT, settings) as client:
            out.print("[bold]6.[/] relay and decider running; proposing through the SDK:")
            run = uuid.uuid4().hex[:8]
            resource = f"crm/contact/demo-{run}"
            steps = [
                ("first contact with a resource", resource, "contact.update", f"{run}-1", 0.95),
                ("same resource again", resource, "contact.update", f"{run}-2", 0.95),
                ("a forbidden action type", resource, "database.drop", f"{run}-3", 0.95),
                ("outside its scopes", f"billing/invoice/{run}", "invoice.void", f"{run}-4", 0.95),
                ("a retry of the second proposal", resource, "contact.update", f"{run}-2", 0.95),
            ]  # fmt: skip
            decisions = []
            for title, target, action_type, key, confidence in steps:
                ref = client.propose(
                    resource=target, action_type=action_type, idempotency_key=key,
                    parameters={"tier": "gold"}, confidence=confidence, estimated_cost=2,
                )  # fmt: skip
                decision = client.wait_for_decision(ref, TIMEOUT_S)
                decisions.append(decision)
                reasons = ", ".join(r.code for r in decision.reasons) or "-"
                out.print(f"   {title}: [bold]{decision.outcome}[/] ({reasons})")
        out.print(
            "[green]governed scenario done[/]: `agentledger policy input ACTION_ID` shows an input"
        )
        return decisions
    finally:
        the_ledger.close()


@contextmanager
def _services(settings: Settings, the_ledger: Ledger) -> Iterator[None]:
    """The relay and the decider, and the API the SDK asks for decisions."""
    the_relay, decider = relay(settings, the_ledger), decider_service(settings, the_ledger)
    with (
        running([("the relay", the_relay.run, the_relay.active),
                 ("the decider", decider.run, decider.ready)]),
        answering(settings, the_ledger),
    ):  # fmt: skip
        yield
