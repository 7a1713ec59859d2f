"""Random command sequences never break the invariants (hypothesis state machine).

Runs the real ledger commands on eventsourcing's in-memory recorder, then checks the
recorded event stream: no execution starts unless authorized (never after a revocation,
expiry or denial), no two executions overlap on a resource, reservations stay in budget.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
)

from agentledger.bootstrap import catalog
from domain.errors import DomainError
from domain.events.decisions import DecisionOutcome
from domain.ids import action_id
from infra.ledger.ledger import Ledger
from tests.domain_helpers import Clock, obligations, proposal

pytestmark = pytest.mark.unit

AGENTS = ("agent-a", "agent-b")
RESOURCES = ("crm/contact/1", "crm/contact/1", "crm/contact/1", "crm/contact/2")  # contention
KEYS = ("k1", "k2", "k3")
APPROVERS = ("alice", "bob", "owner-agent-a")


class LedgerMachine(RuleBasedStateMachine):
    """Drives the ledger with random commands; refusals (DomainError) are expected."""

    actions = Bundle("actions")

    def __init__(self) -> None:
        """A fresh in-memory ledger with two agents."""
        super().__init__()
        self.clock = Clock()
        self.ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"}, catalog())
        with self.ledger.batch(self.clock.ctx()) as tx:
            for agent in AGENTS:
                tx.register_agent(
                    agent_id=agent,
                    name=agent,
                    owner=f"owner-{agent}",
                    scopes=["*"],
                    budget_limit=Decimal(10),
                )

    def _run(self, command: str, *args: Any, **kwargs: Any) -> None:
        refused = contextlib.suppress(DomainError, LookupError)  # refused: nothing was saved
        with refused, self.ledger.batch(self.clock.ctx()) as tx:
            getattr(tx, command)(*args, **kwargs)

    @rule(
        target=actions,
        agent=st.sampled_from(AGENTS),
        key=st.sampled_from(KEYS),
        resource=st.sampled_from(RESOURCES),
    )
    def propose(self, agent: str, key: str, resource: str) -> UUID:
        """An agent proposes (a repeat returns the original action)."""
        self._run("propose", proposal(key, agent=agent, resource=resource, preconditions={}))
        return action_id(agent, key)

    @rule(
        aid=actions,
        outcome=st.sampled_from(
            [
                DecisionOutcome.ALLOW,
                DecisionOutcome.ALLOW,
                DecisionOutcome.REQUIRE_APPROVAL,
                DecisionOutcome.DENY,
            ]
        ),
        approvals=st.integers(1, 2),
        budget=st.sampled_from([None, "3", "6"]),
    )
    def decide(
        self, aid: UUID, outcome: DecisionOutcome, approvals: int, budget: str | None
    ) -> None:
        """Policy decides, with each outcome, sometimes reserving budget."""
        ob = obligations(approvals, ttl=120, budget=budget)
        self._run(
            "decide",
            aid,
            outcome=outcome,
            reasons=[],
            obligations=ob,
            bundle_digest="b",
            bundle_version="1",
            input_digest="i",
            resource_version="v1",
        )

    @rule(aid=actions, approver=st.sampled_from(APPROVERS))
    def approve(self, aid: UUID, approver: str) -> None:
        """Someone approves (sometimes the owner: refused)."""
        try:
            digest: str = self.ledger.repository.get(aid).digest
        except Exception:  # noqa: BLE001  # no such action (its proposal was refused)
            return
        self._run(
            "approve", aid, approver=approver, roles=[], action_digest=digest, resource_version="v1"
        )

    @rule(aid=actions, command=st.sampled_from(["expire", "reject", "revoke"]))
    def end(self, aid: UUID, command: str) -> None:
        """Expire, reject or revoke."""
        kwargs = {
            "reject": {"approver": "alice", "reason": "no"},
            "revoke": {"by": "alice", "reason": "stop"},
        }
        self._run(command, aid, **kwargs.get(command, {}))

    @rule(aid=actions, version=st.sampled_from(["v1", "v1", "v2"]))
    def start(self, aid: UUID, version: str) -> None:
        """An executor tries to start (v2: the resource changed since approval)."""
        self._run("start_execution", aid, executor="e1", resource_version=version)

    @rule(aid=actions, budget=st.sampled_from([None, "4"]), version=st.sampled_from(["v1", "v2"]))
    def allow_and_start(self, aid: UUID, budget: str | None, version: str) -> None:
        """Policy allows, then an executor starts at once (either step may be refused)."""
        self.decide(aid, DecisionOutcome.ALLOW, 1, budget)
        self.start(aid, version)

    @rule(aid=actions, ok=st.booleans(), retryable=st.booleans())
    def finish(self, aid: UUID, ok: bool, retryable: bool) -> None:  # noqa: FBT001  # drawn
        """The external call ends, applied or failed."""
        if ok:
            self._run("applied", aid, external_version="v9", fields={})
        else:
            self._run("failed", aid, error="boom", retryable=retryable)

    @rule(
        agent=st.sampled_from(AGENTS),
        change=st.sampled_from(["suspend", "reinstate", "2", "10", "20"]),
    )
    def administer(self, agent: str, change: str) -> None:
        """Pull or release the kill switch, or change the budget limit."""
        if change in {"suspend", "reinstate"}:
            self._run(f"{change}_agent", agent, reason="r", by="ops")
        else:
            self._run("change_budget", agent, limit=Decimal(change), by="ops")

    @rule(seconds=st.sampled_from([30, 130]))
    def time_passes(self, seconds: int) -> None:
        """The clock moves (past approval deadlines, sometimes)."""
        self.clock.advance(seconds)

    @invariant()
    def stream_respects_the_invariants(self) -> None:
        """Replay the recorded stream and check invariants 2, 5 and 7."""
        status: dict[UUID, str] = {}
        running: dict[str, UUID] = {}
        limits: dict[str, Decimal] = {}
        for notification in self.ledger.recorder.select_notifications(start=1, limit=100_000):
            record = self.ledger.mapper.to_domain_event(notification).record  # type: ignore[attr-defined]
            kind = type(record).__name__
            if kind in {"AgentRegistered", "AgentBudgetChanged"}:
                limits[record.agent_id] = record.budget_limit
            elif kind == "BudgetReserved":
                assert record.reserved_total <= limits[record.agent_id], (
                    "reservations exceed budget"
                )
            elif kind == "ExecutionStarted":
                assert status.get(record.action_id) in {"Authorized", "retry"}, (
                    f"started while {status.get(record.action_id)}"
                )
                assert running.get(record.resource.key) in {None, record.action_id}, (
                    "two executions on one resource"
                )
                running[record.resource.key] = record.action_id
            elif kind in {"MutationApplied", "MutationFailed"}:
                running.pop(record.resource.key, None)
            if kind in {
                "Authorized",
                "Revoked",
                "ApprovalExpired",
                "ApprovalRejected",
                "MutationApplied",
            }:
                status[record.action_id] = kind
            elif kind == "PolicyDecided" and record.outcome is DecisionOutcome.DENY:
                status[record.action_id] = "Denied"
            elif kind == "MutationFailed":
                status[record.action_id] = "retry" if record.retryable else "Failed"


TestLedgerMachine = LedgerMachine.TestCase
TestLedgerMachine.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
