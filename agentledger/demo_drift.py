"""The demo's drift scenario: one real cause for each drift class, then the drift report.

A scripted agent changes two CRM contacts through the ledger while the reconciler runs
(a child of the demo's `agentledger run`). Then reality moves away from belief, five
ways: a human edits a contact in the CRM's UI, the CRM silently drops a write, an
approver revokes a change after it ran, the agent proposes against a state that is no
longer true, and the observer stops for a while. The report lists every alert with its
one-line explanation.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any
from uuid import UUID

from rich.console import Console

from agentledger.approvals import Approver
from agentledger.bootstrap import (
    approval_desk,
    connectors,
    enroll_agent,
    ledger,
    system_context,
    topic_serdes,
)
from agentledger.client import Client
from agentledger.credentials import kafka_access
from agentledger.services import wait_until
from agentledger.services_run import ServicesRun
from agentledger.settings import Settings
from agentledger.signing_keys import enroll_key
from domain.action_state import Status
from domain.events import DriftDetected, DriftResolved
from domain.events.drift import DriftClass
from domain.values import ResourceRef
from infra.batches import readable_to_end
from infra.connectors.base import Mutation, Operation
from infra.connectors.crm_admin import CrmAdmin
from infra.connectors.registry import Connectors
from infra.kafka_acls import OPERATOR
from infra.kafka_config import client_config
from infra.ledger.ledger import Ledger

AGENT = "demo-drift-bot"
APPROVER = Approver("demo-approver", ["reviewer", "security", "finance", "owner"])
TIMEOUT_S = 90.0


class Scene:
    """The running pieces of the scenario."""

    def __init__(
        self, settings: Settings, the_ledger: Ledger, systems: Connectors, client: Client
    ) -> None:
        """Act as :data:`AGENT` through ``client``."""
        self.settings, self.ledger, self.systems, self.client = (
            settings,
            the_ledger,
            systems,
            client,
        )
        self.desk = approval_desk(settings, the_ledger, systems)

    def seed(self, ref: ResourceRef, **fields: Any) -> None:  # noqa: ANN401  # field values
        """Create the record in the CRM, as its users would."""
        mutation = Mutation(ref, Operation.UPSERT, fields)
        self.systems[ref.system].apply(mutation, f"seed-{uuid.uuid4().hex}", None)

    def execute(self, ref: ResourceRef, parameters: dict[str, Any], key: str) -> UUID:
        """Propose, approve when asked, wait until applied."""
        proposed = self.client.propose(
            resource=ref, action_type="contact.update", idempotency_key=key,
            parameters=parameters, preconditions={},
        )  # fmt: skip
        if self.client.wait_for_decision(proposed, TIMEOUT_S).outcome == "require_approval":
            self.desk.approve(APPROVER, proposed.action_id, comment="fine")
        wait_until(self.ledger, proposed.action_id, {Status.APPLIED}, TIMEOUT_S)
        return proposed.action_id

    def crm_admin(self) -> CrmAdmin:
        """The CRM's admin endpoints (a human in the UI, the vendor's fault switch)."""
        return CrmAdmin(self.settings.crm)


def run_drift(settings: Settings, services: ServicesRun, out: Console) -> dict[str, int]:
    """Run the scenario and print the report; the number of alerts per class.

    The reconciler of ``services`` runs with the demo's short windows; its observer is
    stopped for a while through the run's supervisor.
    """
    run = uuid.uuid4().hex[:6]
    first = ResourceRef(system="crm", type="contact", id=f"drift-{run}-a")
    second = ResourceRef(system="crm", type="contact", id=f"drift-{run}-b")
    the_ledger, systems = ledger(settings), connectors(settings)
    started = time.time()
    try:
        out.print(
            f"[bold]11.[/] the reconciler compares belief and reality (settle"
            f" {settings.reconciler_settle_s:.0f} s; feeds stale after"
            f" {settings.reconciler_stale_after_s:.0f} s)"
        )
        with the_ledger.batch(system_context()) as tx:
            if tx.find_agent(AGENT) is None:
                tx.register_agent(
                    agent_id=AGENT, name=AGENT, owner=f"{AGENT}-owner", scopes=["crm:*"],
                    budget_limit=Decimal(1000),
                )  # fmt: skip
            enroll_key(settings, tx, AGENT, "demo")
        enroll_agent(settings, AGENT)
        with Client(AGENT, settings) as client:
            scene = Scene(settings, the_ledger, systems, client)
            _act(scene, first, second, run, out)
            services.control("stop", "observer")
            out.print("   the observer stops for 7 s (`supervisorctl stop agentledger:observer`:"
                      " no one reads the change feeds)")  # fmt: skip
            time.sleep(7)
            services.control("start", "observer")
            counts = _report(settings, {first.key, second.key}, started, out)
    finally:
        systems.close()
        the_ledger.close()
    return counts


def _act(scene: Scene, first: ResourceRef, second: ResourceRef, run: str, out: Console) -> None:
    scene.seed(first, name="Grace", email="grace@example.com", tier="silver")
    scene.seed(second, name="Alan", email="alan@example.com", tier="silver")
    scene.execute(first, {"tier": "gold"}, f"{run}-1")
    scene.execute(second, {"tier": "gold"}, f"{run}-2")
    out.print(f"   {scene.client.agent_id} set both contacts to gold (approved, applied, observed)")
    admin = scene.crm_admin()
    try:
        admin.edit(first, {"tier": "bronze"})
        out.print(f"   a human set {first.key} to bronze in the CRM's UI")
        admin.drop_writes(enabled=True)
        try:
            scene.execute(second, {"tier": "platinum"}, f"{run}-3")
        finally:
            admin.drop_writes(enabled=False)
        out.print(f"   the CRM answered 200 to platinum for {second.key} but stored nothing")
    finally:
        admin.close()
    revoked = scene.execute(second, {"email": "alan@work.example"}, f"{run}-4")
    scene.desk.revoke(APPROVER, revoked, "the customer asked us not to change it")
    out.print(f"   an approver revoked the email change of {second.key} after it ran")
    time.sleep(3)  # the views learn of the human edit
    stale = scene.client.propose(
        resource=first, action_type="contact.update", idempotency_key=f"{run}-5",
        parameters={"tier": "platinum"}, preconditions={"tier": "gold"},
    )  # fmt: skip
    decision = scene.client.wait_for_decision(stale, TIMEOUT_S)
    reasons = "; ".join(f"{r.code}: {r.message}" for r in decision.reasons)
    out.print(
        f"   {scene.client.agent_id} proposed against tier=gold: {decision.outcome} ({reasons})"
    )


def _report(settings: Settings, keys: set[str], started: float, out: Console) -> dict[str, int]:
    """Wait until every class was raised (or the timeout), then print the alerts."""
    wanted = {drift_class.value for drift_class in DriftClass}
    deadline = time.monotonic() + TIMEOUT_S
    alerts: dict[str, DriftDetected] = {}
    closed: dict[str, DriftResolved] = {}
    while time.monotonic() < deadline:
        alerts, closed = _read(settings, keys, started)
        if wanted <= {a.drift_class.value for a in alerts.values()}:
            break
        time.sleep(1)
    out.print("[bold]12.[/] drift report (from drift.v1), one line per alert:")
    for alert in sorted(
        alerts.values(), key=lambda a: (a.drift_class.value, a.metadata.occurred_at)
    ):
        done = closed.get(alert.alert_id)
        status = f"resolved: {done.resolution}" if done is not None else "open"
        out.print(
            f"   [bold]{alert.drift_class.value}[/] ({alert.severity.value}) {alert.resource.key},"
            f" {status}\n      {alert.explanation}"
        )
    counts = {
        cls: sum(a.drift_class.value == cls for a in alerts.values()) for cls in sorted(wanted)
    }
    missing = [cls for cls, count in counts.items() if count == 0]
    if missing:
        out.print(f"[red]no alert of class {', '.join(missing)} within {TIMEOUT_S:.0f} s[/]")
    else:
        out.print("[green]drift scenario done: every class raised[/]")
    return counts


def _read(
    settings: Settings, keys: set[str], started: float
) -> tuple[dict[str, DriftDetected], dict[str, DriftResolved]]:
    """The alerts of this run on drift.v1: its contacts, and the feeds since it started."""
    from confluent_kafka import Consumer  # noqa: PLC0415  # only the demo reads like this

    serde = topic_serdes(settings, "drift.v1")["drift.v1"]
    consumer = Consumer(client_config(kafka_access(settings, OPERATOR), {
        "group.id": f"demo-{uuid.uuid4()}",
        "auto.offset.reset": "earliest", "isolation.level": "read_committed",
        "enable.auto.commit": False, "enable.partition.eof": True,
    }))  # fmt: skip
    consumer.subscribe([serde.topic])
    alerts: dict[str, DriftDetected] = {}
    closed: dict[str, DriftResolved] = {}
    try:
        for record in readable_to_end(consumer, serde, settings.partitions, 10):
            if not isinstance(record, DriftDetected | DriftResolved):
                continue
            ours = record.resource.key in keys or (
                record.resource.type == "observer"
                and record.metadata.occurred_at.timestamp() >= started
            )
            if ours and isinstance(record, DriftDetected):
                alerts[record.alert_id] = record
            elif ours and isinstance(record, DriftResolved):
                closed[record.alert_id] = record
    finally:
        consumer.close()
    return alerts, closed
