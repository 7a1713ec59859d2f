"""The demo's execution scenario: approvals, executions on both systems, observations.

Scripted agents propose through the SDK; a scripted approver approves some actions,
lets one expire and revokes one after it ran; the executor applies what is authorized
to the PostgreSQL billing system and the HTTP CRM while the observer follows both change
feeds. Everything is printed at the end as one timeline, read back from the ledger and
from ``observations.v1``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

from rich.console import Console

from agentledger.approvals import Approver
from agentledger.approver_client import ApproverClient
from agentledger.bootstrap import (
    connectors,
    enroll_agent,
    ledger,
    system_context,
    wall_clock,
)
from agentledger.client import Client
from agentledger.local_issuer import LocalIssuer
from agentledger.services import observations_since, wait_until
from agentledger.settings import Settings
from agentledger.signing_keys import enroll_key
from domain.action import Action
from domain.action_state import Status
from domain.events import (
    Approved,
    CompensationProposed,
    DomainEvent,
    ExecutionStarted,
    MutationApplied,
    MutationFailed,
    PolicyDecided,
    Revoked,
)
from domain.ids import action_id, compensation_key
from domain.values import ResourceRef, Value
from infra.connectors.base import Mutation, Operation
from infra.connectors.crm_admin import CrmAdmin
from infra.connectors.registry import Connectors
from infra.ledger.ledger import Ledger

AGENTS = ("demo-sales-bot", "demo-billing-bot")
APPROVER = Approver("demo-approver", ["reviewer", "security", "finance", "owner"])
DEMO_TTL_S = 15
TIMEOUT_S = 90.0


@dataclass(frozen=True)
class Step:
    """One scripted proposal and what the approver does with it."""

    title: str
    agent: str
    resource: ResourceRef
    action_type: str
    parameters: dict[str, Value]
    preconditions: dict[str, Value]
    approver: str = "approve"  # approve | ignore


def run_flow(settings: Settings, issuer: LocalIssuer, out: Console) -> dict[str, str]:
    """Run the scenario; the final status of each step's action, by title.

    The approver signs in through ``issuer``, the one the demo's API trusts.
    """
    the_ledger, systems = ledger(settings), connectors(settings)
    run = uuid.uuid4().hex[:6]
    contact = ResourceRef(system="crm", type="contact", id=f"demo-{run}")
    invoice = ResourceRef(system="billing", type="invoice", id=f"demo-{run}")
    started = time.time()
    try:
        _seed(systems, contact, invoice, out)
        with the_ledger.batch(system_context()) as tx:
            for agent in AGENTS:
                tx.register_agent(
                    agent_id=agent, name=agent, owner=f"{agent}-owner",
                    scopes=["crm:*", "billing:*"], budget_limit=Decimal(1000),
                )  # fmt: skip
                enroll_key(settings, tx, agent, "demo")
        out.print(f"[bold]8.[/] agents {', '.join(AGENTS)} registered; approval TTL {DEMO_TTL_S} s")
        steps = _steps(run, contact, invoice)
        for agent in AGENTS:
            enroll_agent(settings, agent)
        token = issuer.mint(APPROVER.name, APPROVER.roles, wall_clock(), timedelta(hours=1))
        with (
            Client(AGENTS[0], settings) as sales,
            closing(ApproverClient(settings.api, token)) as desk,
        ):
            clients = {AGENTS[0]: sales, AGENTS[1]: Client(AGENTS[1], settings)}
            out.print(
                f"[bold]9.[/] {APPROVER.name} signed in through the local issuer {issuer.url}"
            )
            ids = {}
            for step in steps:
                ref = clients[step.agent].propose(
                    resource=step.resource, action_type=step.action_type,
                    idempotency_key=f"{run}-{step.title}", parameters=step.parameters,
                    preconditions=step.preconditions,
                )  # fmt: skip
                decision = clients[step.agent].wait_for_decision(ref, TIMEOUT_S)
                ids[step.title] = ref.action_id
                reasons = ", ".join(r.code for r in decision.reasons) or "-"
                out.print(f"   {step.title}: [bold]{decision.outcome}[/] ({reasons})")
                if decision.outcome == "require_approval" and step.approver == "approve":
                    done = desk.decide("approve", ref.action_id, {"comment": "looks right"})
                    out.print(f"     approved over the API by {', '.join(done['approved_by'])}")
                if decision.outcome in {"allow", "require_approval"} and step.approver == "approve":
                    wait_until(the_ledger, ref.action_id, {Status.APPLIED}, TIMEOUT_S)
            revoked = ids["raise the invoice amount"]
            desk.decide("revoke", revoked, {"reason": "amount was agreed by phone, not in writing"})
            out.print("   revoked after execution: [bold]raise the invoice amount[/]")
            undo = action_id(AGENTS[1], compensation_key(revoked))
            wait_until(the_ledger, undo, {Status.APPLIED, Status.AWAITING_APPROVAL}, TIMEOUT_S)
            ids["compensation of the raise"] = undo
            _human_edit(settings, contact, out)
            wait_until(the_ledger, ids["first touch of a new contact"], {Status.APPROVAL_EXPIRED},
                       TIMEOUT_S)  # fmt: skip
            time.sleep(2 * settings.observer_poll_s + 1)
            clients[AGENTS[1]].close()
        _print_timeline(settings, the_ledger, ids, {contact, invoice}, started=started, out=out)
        return {title: _status(the_ledger, aid) for title, aid in ids.items()}
    finally:
        systems.close()
        the_ledger.close()


def _steps(run: str, contact: ResourceRef, invoice: ResourceRef) -> list[Step]:
    sales, billing = AGENTS
    fresh = ResourceRef(system="crm", type="contact", id=f"demo-{run}-new")
    return [
        Step("first touch of the contact", sales, contact, "contact.update", {"tier": "gold"},
             {"tier": "silver"}),
        Step("first touch of the invoice", billing, invoice, "invoice.update", {"status": "sent"},
             {"status": "draft"}),
        Step("update the contact again", sales, contact, "contact.update", {"phone": "555 0100"},
             {"phone": None}),
        Step("raise the invoice amount", billing, invoice, "invoice.update", {"amount": "120.00"},
             {"amount": "100.00"}),
        Step("delete by another name", sales, contact, "contact.archive.delete", {}, {}),
        Step("first touch of a new contact", sales, fresh, "contact.update", {"tier": "silver"},
             {}, approver="ignore"),
    ]  # fmt: skip


def _seed(systems: Connectors, contact: ResourceRef, invoice: ResourceRef, out: Console) -> None:
    seeds: list[tuple[ResourceRef, dict[str, Value]]] = [
        (contact, {"name": "Ada", "tier": "silver"}),
        (invoice, {"amount": "100.00", "status": "draft"}),
    ]
    for ref, fields in seeds:
        systems[ref.system].apply(Mutation(ref, Operation.UPSERT, fields), f"seed-{ref.key}", None)
    out.print(f"[bold]7.[/] seeded {contact.key} (HTTP CRM) and {invoice.key} (PostgreSQL billing)")


def _human_edit(settings: Settings, contact: ResourceRef, out: Console) -> None:
    admin = CrmAdmin(settings.crm)
    try:
        admin.edit(contact, {"phone": "+1 555 0199"})
    finally:
        admin.close()
    out.print(f"   a human edited {contact.key} in the CRM's UI (out of band)")


def _status(the_ledger: Ledger, aid: UUID) -> str:
    """The action's status; ``rejected`` if it never became one (refused before the policy)."""
    if aid not in the_ledger.repository:
        return "rejected"
    action: object = the_ledger.repository.get(aid)
    return str(action.status if isinstance(action, Action) else Status.PROPOSED)


def _print_timeline(  # noqa: PLR0913  # the timeline joins the ledger and the observations
    settings: Settings, the_ledger: Ledger, ids: dict[str, UUID], refs: set[ResourceRef],
    *, started: float, out: Console,
) -> None:  # fmt: skip
    rows: list[tuple[float, str, str]] = []
    for title, aid in ids.items():
        for event in the_ledger.events.get(aid):
            record = getattr(event, "record", None)
            if isinstance(record, DomainEvent):
                rows.append((record.metadata.occurred_at.timestamp(), title, _describe(record)))
    rows.extend(
        (seen.observed_at.timestamp(), f"observed {seen.resource.key}",
         f"version {seen.external_version}: {json.dumps(seen.fields, default=str)}")
        for seen in observations_since(settings, started, refs)
    )  # fmt: skip
    out.print("[bold]10.[/] timeline (seconds since start):")
    for at, who, what in sorted(rows, key=lambda row: row[0]):  # stable: each action in order
        out.print(f"   +{at - started:6.1f}s  {who}: {what}")
    out.print("[green]execution scenario done[/]")


def _describe(record: DomainEvent) -> str:  # noqa: PLR0911  # one line per event type
    name = type(record).__name__
    if isinstance(record, PolicyDecided):
        return f"{name} {record.outcome} ({', '.join(r.code for r in record.reasons) or '-'})"
    if isinstance(record, Approved):
        return f"{name} by {record.approver} at version {record.resource_version}"
    if isinstance(record, Revoked):
        return f"{name} by {record.revoked_by}: {record.reason}"
    if isinstance(record, ExecutionStarted):
        return f"{name} attempt {record.attempt}, expecting version {record.expected_version}"
    if isinstance(record, MutationApplied):
        return f"{name}, now at version {record.external_version}"
    if isinstance(record, MutationFailed):
        return f"{name}: {record.error}"
    if isinstance(record, CompensationProposed):
        return f"{name}: undo with {json.dumps(record.parameters, default=str)}"
    return name


def demo_bundle(source: Path) -> Path:
    """A copy of the active bundle with short approval TTLs, so an expiry happens live."""
    target = Path(tempfile.mkdtemp(prefix="agentledger-demo-bundle-"))
    shutil.copytree(source, target, dirs_exist_ok=True)
    data_file = target / "agentledger" / "config" / "data.json"
    data = json.loads(data_file.read_text())
    data["approval_ttl_seconds"] = data["high_risk_approval_ttl_seconds"] = DEMO_TTL_S
    data_file.write_text(json.dumps(data, indent=2))
    return target
