"""The demo's governed scenario: an agent proposes, policy decides, every answer explained.

With the services of the demo's `agentledger run`, registers a demo agent with its
signing key, proposes five actions through the SDK and prints each decision with its
reasons and obligations, then one signed with a key the agent never registered.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console

from agentledger.bootstrap import enroll_agent, ledger, system_context
from agentledger.client import Client, Decision
from agentledger.credentials import agent_api_token
from agentledger.settings import Settings
from agentledger.signing_keys import enroll_key
from domain.events import ActionProposed
from domain.ids import action_id
from domain.signing import signed
from domain.values import ResourceRef

AGENT = "demo-agent"
TIMEOUT_S = 60.0


def run_governed(settings: Settings, out: Console) -> list[Decision]:
    """Propose the scenario's actions and print what the ledger decided about each."""
    the_ledger = ledger(settings)
    try:
        with the_ledger.batch(system_context()) as tx:
            tx.register_agent(agent_id=AGENT, name="Demo agent", owner="demo-owner",
                              scopes=["crm:*"], budget_limit=Decimal(100))  # fmt: skip
            kid = enroll_key(settings, tx, AGENT, "demo")
        out.print(
            f"[bold]5.[/] registered [cyan]{AGENT}[/] (scopes crm:*, budget 100), signing with"
            f" its key {kid}"
        )
        enroll_agent(settings, AGENT)
        with Client(AGENT, settings) as client:
            out.print(
                "[bold]6.[/] proposing through the SDK, each proposal signed with the agent's key:"
            )
            run = uuid.uuid4().hex[:8]
            resource = f"crm/contact/demo-{run}"
            steps = [
                ("first contact with a resource", resource, "contact.update", f"{run}-1", 2),
                ("same resource again", resource, "contact.update", f"{run}-2", 2),
                ("over its budget", resource, "contact.update", f"{run}-6", 500),
                ("delete by another name", resource, "contact.archive.delete", f"{run}-3", 2),
                ("outside its scopes", f"billing/invoice/{run}", "invoice.update", f"{run}-4", 2),
                ("a retry of the second proposal", resource, "contact.update", f"{run}-2", 2),
            ]  # fmt: skip
            decisions = []
            for title, target, action_type, key, cost in steps:
                ref = client.propose(
                    resource=target, action_type=action_type, idempotency_key=key,
                    parameters={"tier": "gold"}, confidence=0.95, estimated_cost=cost,
                )  # fmt: skip
                decision = client.wait_for_decision(ref, TIMEOUT_S)
                decisions.append(decision)
                reasons = ", ".join(r.code for r in decision.reasons) or "-"
                out.print(f"   {title}: [bold]{decision.outcome}[/] ({reasons})")
            decision = _signed_by_a_stranger(settings, client, f"{run}-5", resource)
            decisions.append(decision)
            reasons = ", ".join(r.code for r in decision.reasons)
            out.print(
                f"   signed with a key it never registered: [bold]{decision.outcome}[/] ({reasons})"
            )
        out.print(
            "[green]governed scenario done[/]: `agentledger policy input ACTION_ID` shows an input"
        )
        return decisions
    finally:
        the_ledger.close()


def _signed_by_a_stranger(settings: Settings, client: Client, key: str, resource: str) -> Decision:
    """A proposal over HTTP with the agent's token, signed with another key.

    The API vouches for the agent, so the decider tells it why it refused.
    """
    body: dict[str, object] = {
        "resource": resource, "action_type": "contact.update", "idempotency_key": key,
    }  # fmt: skip
    unsigned = ActionProposed.model_validate({
        "metadata": {"event_id": uuid.uuid4(), "correlation_id": uuid.uuid4(),
                     "occurred_at": datetime.now(UTC)},
        "agent_id": AGENT, "resource": ResourceRef.parse(resource), "action_type": "contact.update",
        "idempotency_key": key, "parameters": {}, "preconditions": {}, "confidence": 1.0,
    })  # fmt: skip
    forged = signed(unsigned, Ed25519PrivateKey.generate())
    body["signature"] = {"key_id": forged.key_id, "value": base64.b64encode(forged.value).decode()}
    token = agent_api_token(settings, AGENT)
    httpx.post(
        f"{settings.api}/proposals",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).raise_for_status()
    return client.wait_for_decision(action_id(AGENT, key), TIMEOUT_S)
