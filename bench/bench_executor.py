"""The executor: authorized actions applied per second against the PostgreSQL system of record."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime

from agentledger.bootstrap import connectors, executor_service, ledger, relay, system_context
from agentledger.settings import Settings
from bench.bench_ledger import _register
from bench.isolation import isolated
from bench.result import Result
from consumers.executor.executor import Outcome
from domain.events import ActionProposed
from domain.events.decisions import DecisionOutcome, Obligations
from infra.connectors.registry import Connectors
from infra.ledger.commands import Commands
from infra.ledger.ledger import Ledger

ACTIONS = int(os.environ.get("BENCH_EXECUTOR_ACTIONS", "2000"))
ALLOW = Obligations(approvals_required=0, approver_roles=[], extra={})


def run(settings: Settings) -> list[Result]:
    """executor.throughput_aps: a backlog of authorized billing updates, each on its own invoice."""
    with isolated(settings) as mine:
        the_ledger = ledger(mine)
        systems = connectors(mine)
        try:
            _register(the_ledger)
            tag = uuid.uuid4().hex[:8]
            for first in range(0, ACTIONS, 200):
                with the_ledger.batch(system_context()) as tx:
                    for index in range(first, min(first + 200, ACTIONS)):
                        _allow(tx, _proposal(tag, index))
            aps = _measure(mine, the_ledger, systems)
        finally:
            systems.close()
            the_ledger.close()
    return [Result("executor.throughput_aps", round(aps, 1), "actions/s", "higher")]


def _measure(settings: Settings, the_ledger: Ledger, systems: Connectors) -> float:
    stop = threading.Event()
    the_relay = relay(settings, the_ledger)
    threading.Thread(target=the_relay.run, args=(stop,), daemon=True).start()
    backlog = the_ledger.recorder.max_notification_id() or 0
    deadline = time.monotonic() + 300
    while the_relay.position.notification_id < backlog and time.monotonic() < deadline:
        time.sleep(0.05)
    service = executor_service(settings, the_ledger, systems)
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    started = time.perf_counter()
    thread.start()
    while service.outcomes[Outcome.APPLIED] < ACTIONS and time.monotonic() < deadline:
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    stop.set()
    thread.join(60)
    if service.outcomes[Outcome.APPLIED] < ACTIONS:
        raise RuntimeError(f"only {service.outcomes} of {ACTIONS} applied before the deadline")
    return ACTIONS / elapsed


def _allow(tx: Commands, proposal: ActionProposed) -> None:
    aid, _ = tx.propose(proposal)
    tx.decide(aid, outcome=DecisionOutcome.ALLOW, reasons=[], obligations=ALLOW,
              bundle_digest="b" * 64, bundle_version="bench", input_digest="i" * 64,
              effect="update")  # fmt: skip


def _proposal(tag: str, index: int) -> ActionProposed:
    return ActionProposed.model_validate({
        "metadata": {"event_id": uuid.uuid4(), "correlation_id": uuid.uuid4(),
                     "occurred_at": datetime.now(UTC)},
        "agent_id": f"agent-{index % 10}", "idempotency_key": f"{tag}-{index}",
        "resource": {"system": "billing", "type": "invoice", "id": f"bench-{tag}-{index}"},
        "action_type": "invoice.update", "parameters": {"status": "sent", "amount": "10.00"},
        "preconditions": {}, "confidence": 0.9,
    })  # fmt: skip
