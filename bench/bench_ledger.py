"""Ledger writes (propose + decide) into PostgreSQL: batched and one command per transaction."""

from __future__ import annotations

import functools
import os
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from agentledger.bootstrap import ledger, system_context
from agentledger.settings import Settings
from bench.isolation import isolated
from bench.result import Result
from domain.events import ActionProposed
from domain.events.decisions import DecisionOutcome, Obligations
from domain.ids import agent_aggregate_id
from infra.ledger.commands import Commands
from infra.ledger.ledger import Ledger

PROPOSALS = int(os.environ.get("BENCH_LEDGER_PROPOSALS", "6000"))
SINGLE = int(os.environ.get("BENCH_LEDGER_SINGLE", "600"))
BATCH = int(os.environ.get("BENCH_LEDGER_BATCH", "200"))
ALLOW = Obligations(approvals_required=0, approver_roles=[], extra={})


def run(settings: Settings) -> list[Result]:
    """Events per second written: many commands per transaction, and one per transaction."""
    with isolated(settings) as mine:
        the_ledger = ledger(mine)
        _register(the_ledger)
        batched = _write(the_ledger, PROPOSALS, BATCH, "b")
        single = _write(the_ledger, SINGLE, 1, "s")
        the_ledger.close()
    return [
        Result("ledger.write_eps_batched", round(batched), "events/s", "higher", 5000),
        Result("ledger.write_eps_single", round(single), "events/s", "higher"),
    ]


def _register(the_ledger: Ledger, agents: int = 10) -> None:
    """Register ``agent-0`` .. ``agent-{agents-1}`` with every scope and an ample budget."""
    with the_ledger.batch(system_context()) as tx:
        for index in range(agents):
            tx.register_agent(
                agent_id=f"agent-{index}",
                name="A",
                owner="o",
                scopes=["*"],
                budget_limit=Decimal(10**9),
            )


def _write(the_ledger: Ledger, proposals: int, batch: int, tag: str) -> float:
    """Propose and allow ``proposals`` actions, ``batch`` per transaction; events per second."""
    batches = [  # the input is built before the clock starts: the ledger's work is measured
        [proposal(f"{tag}{index}", index) for index in range(first, min(first + batch, proposals))]
        for first in range(0, proposals, batch)
    ]
    before = the_ledger.recorder.max_notification_id() or 0
    started = time.perf_counter()
    for items in batches:
        the_ledger.run(system_context(), functools.partial(_propose_and_allow, items=items))
    elapsed = time.perf_counter() - started
    events = (the_ledger.recorder.max_notification_id() or 0) - before
    return events / elapsed


def _propose_and_allow(tx: Commands, *, items: list[ActionProposed]) -> None:
    # as the decider does: the batch's agents in one query, not one query each
    tx.uow.preload({agent_aggregate_id(item.agent_id) for item in items})
    for item in items:
        aid, created = tx.propose(item)
        if created:
            tx.decide(
                aid, outcome=DecisionOutcome.ALLOW, reasons=[], obligations=ALLOW,
                bundle_digest="d" * 64, bundle_version="1", input_digest="i" * 64,
            )  # fmt: skip


def proposal(
    key: str, index: int, *, agents: int = 10, estimated_cost: Decimal | None = None
) -> ActionProposed:
    """A realistic proposal: a contact update with a few typed parameters."""
    return ActionProposed.model_validate({
        "metadata": {
            "event_id": uuid.uuid4(), "correlation_id": uuid.uuid4(),
            "occurred_at": datetime.now(UTC),
        },
        "agent_id": f"agent-{index % agents}", "idempotency_key": key,
        "resource": {"system": "crm", "type": "contact", "id": str(index % 1000)},
        "action_type": "contact.update",
        "parameters": {"email": f"c{index}@example.com", "score": index},
        "preconditions": {"email": "old@example.com"}, "confidence": 0.9,
        "estimated_cost": estimated_cost,
    })  # fmt: skip
