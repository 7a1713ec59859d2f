"""One governed action is one OpenTelemetry trace, collected by a real Jaeger over OTLP.

The agent's process starts the trace; its context travels in Kafka headers to the
decider, through the ledger (each stored event's header) to the relay, to the approval
recorded by the API, to the executor and its connector call, through the CRM's change
feed to the observer, and to the reconciler.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from agentledger.approver_client import ApproverClient
from agentledger.bootstrap import connectors, ledger
from agentledger.processes import settings_env
from agentledger.settings import Settings
from domain.values import ResourceRef
from infra.connectors.base import Mutation, Operation
from tests.execution_helpers import event_names
from tests.kafka_helpers import enrolled_client
from tests.run_helpers import SupervisedRun, ledger_with_agent
from tests.trace_helpers import Jaeger

pytestmark = pytest.mark.e2e
AGENT = f"traced-{uuid.uuid4().hex[:8]}"
TOKEN = secrets.token_urlsafe(24)
APPROVERS = json.dumps({TOKEN: {"name": "rita", "roles": ["reviewer"]}})
AGENT_RUN = textwrap.dedent("""
    import sys
    from agentledger.client import Client
    from agentledger.settings import Settings
    from infra.telemetry import trace_export, tracing

    trace_export.configure("agent")
    with Client(sys.argv[1], Settings()) as client:
        with tracing.tracer.start_as_current_span("agent run") as root:
            ref = client.propose(resource=sys.argv[2], action_type="contact.update",
                                 idempotency_key=sys.argv[3], parameters={"phone": "555 0142"},
                                 estimated_cost=1)
    trace_export.flush()
    print(format(root.get_span_context().trace_id, "032x"), ref.action_id)
""")


@pytest.fixture(scope="module")
def mine(settings: Settings) -> Iterator[Settings]:
    """A ledger and topics of this module's own, with an enrolled agent allowed to change contacts."""
    with ledger_with_agent(settings, AGENT) as isolated:
        enrolled_client(AGENT, isolated).close()
        yield isolated


def _contact(settings: Settings) -> ResourceRef:
    ref = ResourceRef(system="crm", type="contact", id=f"traced-{uuid.uuid4().hex[:10]}")
    systems = connectors(settings)
    try:
        systems["crm"].apply(Mutation(ref, Operation.UPSERT, {"name": "Ada"}), f"s-{ref.id}", None)
    finally:
        systems.close()
    return ref


def _applied(settings: Settings, action_id: uuid.UUID, timeout_s: float) -> None:
    the_ledger = ledger(settings)
    deadline = time.monotonic() + timeout_s
    try:
        while "MutationApplied" not in event_names(the_ledger, action_id):
            assert time.monotonic() < deadline, event_names(the_ledger, action_id)
            time.sleep(0.3)
    finally:
        the_ledger.close()


def _spans_until(jaeger: Jaeger, trace_id: str, wanted: set[tuple[str, str]], timeout_s: float
                 ) -> list[dict[str, Any]]:  # fmt: skip
    """The trace's spans once every (service, operation prefix) in ``wanted`` is among them."""
    deadline = time.monotonic() + timeout_s
    while True:
        spans = jaeger.spans(trace_id)
        seen = {(s["service"], s["operationName"]) for s in spans}
        missing = {
            w for w in wanted if not any(svc == w[0] and op.startswith(w[1]) for svc, op in seen)
        }
        if not missing:
            return spans
        assert time.monotonic() < deadline, (
            f"never seen in the trace: {sorted(missing)}; seen {sorted(seen)}"
        )
        time.sleep(0.5)


def test_one_governed_action_forms_one_trace_from_the_agent_to_the_reconciler(
    mine: Settings, tmp_path: Path
) -> None:
    """Propose (SDK, in the agent's trace), approve (API), execute: one trace, every hop in it.

    Each span but the agent's root has its parent inside the trace; the decider's span
    carries the GenAI and agentledger attributes (agent, tool, call id, outcome, bundle).
    """
    jaeger = Jaeger(tmp_path)
    otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.otlp, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    run = SupervisedRun(mine, tmp_path / "run", env={"AGENTLEDGER_APPROVERS": APPROVERS, **otel})
    try:
        run.wait_ready()
        contact = _contact(mine)
        agent = subprocess.run(
            [sys.executable, "-c", AGENT_RUN, AGENT, contact.key, f"k-{contact.id}"],
            env={**settings_env(mine), **otel}, capture_output=True, text=True, timeout=120,
            check=True,
        )  # fmt: skip
        trace_id, action = agent.stdout.split()
        with closing(ApproverClient(mine.api, TOKEN)) as desk:
            deadline = time.monotonic() + 60
            while "ApprovalRequested" not in event_names(ledger(mine), uuid.UUID(action)):
                assert time.monotonic() < deadline, "the proposal never asked for approval"
                time.sleep(0.3)
            desk.decide("approve", uuid.UUID(action), {})
        _applied(mine, uuid.UUID(action), 60)
        wanted = {
            ("agentledger-agent", "agent run"),
            ("agentledger-agent", "propose contact.update"),
            ("agentledger-decider", "decide contact.update"),
            ("agentledger-relay", "relay "),
            ("agentledger-api", "approve approval"),
            ("agentledger-executor", "execute contact.update"),
            ("agentledger-executor", "connector crm"),
            ("agentledger-reconciler", "reconcile actions.v1"),
            ("agentledger-observer", "observe crm"),
            ("agentledger-reconciler", "reconcile observations.v1"),
        }
        spans = _spans_until(jaeger, trace_id, wanted, 90)
    finally:
        run.stop()
        jaeger.stop()
    ids = {span["spanID"] for span in spans}
    roots = [s for s in spans if not [r for r in s["references"] if r["refType"] == "CHILD_OF"]]
    assert [root["operationName"] for root in roots] == ["agent run"]
    assert all(
        r["spanID"] in ids for s in spans for r in s["references"] if r["refType"] == "CHILD_OF"
    )
    (decide,) = [s for s in spans if s["operationName"].startswith("decide")]
    tags = {tag["key"]: tag["value"] for tag in decide["tags"]}
    assert tags["gen_ai.agent.id"] == AGENT
    assert tags["gen_ai.tool.name"] == "contact.update"
    assert tags["gen_ai.tool.call.id"] == f"k-{contact.id}"
    assert tags["agentledger.action_id"] == action
    assert tags["agentledger.outcome"] == "require_approval"
    assert len(tags["agentledger.bundle_digest"]) == 64
