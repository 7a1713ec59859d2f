"""What checking a proposal's signature costs the decider, one core, per proposal.

``signing.input_us``: the RFC 8785 signing input of a realistic proposal (pure Python).
``signing.verify_us``: one Ed25519 verification with ``cryptography`` (key cached).
``signing.check_us``: the decider's whole check (input, key lookup, verification).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agentledger.settings import Settings
from bench.bench_ledger import proposal
from bench.result import Result
from consumers.decider.authentication import authentication_problem
from domain.agent import Agent
from domain.context import CommandContext
from domain.signing import as_agent, public_bytes, signing_input, valid

COUNT = int(os.environ.get("BENCH_SIGNING_COUNT", "5000"))


def run(_settings: Settings) -> list[Result]:
    """Time each step over COUNT proposals; microseconds per proposal."""
    key = Ed25519PrivateKey.generate()
    signed = [
        as_agent(key)(proposal(f"k{index}", index, estimated_cost=Decimal("1.5")))
        for index in range(COUNT)
    ]
    agent = _agent(key)
    data = [signing_input(p) for p in signed]
    public = public_bytes(key)
    return [
        _timed("signing.input_us", lambda: [signing_input(p) for p in signed]),
        _timed(
            "signing.verify_us",
            lambda: [valid(p.signature, public, d) for p, d in zip(signed, data, strict=True)],  # type: ignore[arg-type]  # signed above
        ),
        _timed("signing.check_us", lambda: [authentication_problem(p, agent, {}) for p in signed]),
    ]


def _timed(name: str, work: Callable[[], object]) -> Result:
    started = time.perf_counter()
    work()
    micros = (time.perf_counter() - started) / COUNT * 1e6
    return Result(name, round(micros, 1), "µs", "lower")


def _agent(key: Ed25519PrivateKey) -> Agent:
    """The agent as the decider loads it, holding ``key`` (the check reads only its keys)."""
    ctx = CommandContext(now=datetime.now(UTC), new_id=uuid4, correlation_id=uuid4())
    agent = Agent.register(
        ctx, agent_id="agent-0", name="a", owner="o", scopes=["*"], budget_limit=Decimal(10)
    )
    agent.register_key(ctx, public_key=public_bytes(key), by="bench")
    return agent
