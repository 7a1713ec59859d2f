"""The policy engine in-process: one decision per evaluation, as the decider runs it.

Beside the default bundle, the same inputs go through a bundle whose decision reads one
input field (``policy.engine_floor_p50_us``): what regopy costs before any policy logic
(handing over the input, one query, the output parsed and validated).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import infra.policy  # noqa: F401  # regopy first (STACK.md)
from agentledger.settings import Settings
from bench.result import Result
from domain.agent import Agent
from domain.context import CommandContext
from domain.events import ActionProposed
from infra.policy.bundle import load_bundle
from infra.policy.catalog import ActionCatalog
from infra.policy.engine import DECISION, PolicyEngine
from infra.policy.inputs import History, HistoryEntry, build_input

TYPES = ("contact.update", "contact.update", "contact.delete", "email.send")
CATALOG = ActionCatalog.of(load_bundle(Path(__file__).resolve().parents[1] / "policies"))
SAMPLES = int(os.environ.get("BENCH_POLICY_SAMPLES", "20000"))
FLOOR = f"""package {DECISION.rsplit("/", 1)[0].replace("/", ".")}

import rego.v1

result := {{
	"outcome": "allow",
	"reasons": [{{"code": "floor", "message": input.proposal.action_type}}],
	"obligations": {{}},
}}
"""
"""A decision that reads one input field: the engine's cost without policy logic."""


def run(settings: Settings) -> list[Result]:
    """policy.eval_p50_us / p99_us on typical inputs (input conversion and parse included)."""
    documents = [_document(index, settings.policy_history_limit) for index in range(50)]
    timings = _timings(PolicyEngine(load_bundle(settings.policy_bundle)), documents)
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "floor.rego").write_text(FLOOR)
        floor = _timings(PolicyEngine(load_bundle(Path(root))), documents)
    return [
        Result("policy.eval_p50_us", round(statistics.median(timings), 1), "µs", "lower", 100),
        Result(
            "policy.eval_p99_us", round(statistics.quantiles(timings, n=100)[98], 1), "µs", "lower"
        ),
        Result("policy.engine_floor_p50_us", round(statistics.median(floor), 1), "µs", "lower"),
    ]


def _timings(engine: PolicyEngine, documents: list[dict[str, object]]) -> list[float]:
    """Microseconds per ``engine.evaluate``, after a warm-up, over SAMPLES evaluations."""
    for document in documents * 20:
        engine.evaluate(document)
    timings = []
    for index in range(SAMPLES):
        document = documents[index % len(documents)]
        started = time.perf_counter_ns()
        engine.evaluate(document)
        timings.append((time.perf_counter_ns() - started) / 1000)
    return timings


def _document(index: int, limit: int) -> dict[str, object]:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    ctx = CommandContext(now=now, new_id=uuid4, correlation_id=uuid4())
    agent = Agent.register(
        ctx,
        agent_id=f"agent-{index % 5}",
        name="A",
        owner="o",
        scopes=["crm:*"],
        budget_limit=Decimal(5000),
    )
    history = History()
    for age in range(index % 4):
        at = int(now.timestamp() * 1000) - age * 7000
        entry = HistoryEntry(at, agent.agent_id, f"crm/contact/{index}", "contact.update", "allow")
        history.add(entry)
    proposal = ActionProposed.model_validate({
        "metadata": {"event_id": uuid4(), "correlation_id": uuid4(), "occurred_at": now},
        "agent_id": agent.agent_id, "idempotency_key": f"k{index}",
        "resource": {"system": "crm", "type": "contact", "id": str(index)},
        "action_type": TYPES[index % 4],
        "parameters": {"tier": "gold", "amount": [10, 2500][index % 2]},
        "preconditions": {"tier": "silver"},
        "confidence": [0.95, 0.5][index % 2], "estimated_cost": Decimal("1.25"),
    })  # fmt: skip
    return build_input(
        action_id=UUID(int=index),
        proposal=proposal,
        agent=agent,
        history=history,
        now=now,
        history_limit=limit,
        action=CATALOG.spec("crm", "contact", TYPES[index % 4]),
    ).document
