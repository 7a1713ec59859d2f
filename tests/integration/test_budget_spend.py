"""Budgets that add up, on the real decider, executor, billing/CRM and PostgreSQL."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from decimal import Decimal
from typing import Any

import pytest

from agentledger.bootstrap import decider, system_context, topic_serdes
from agentledger.settings import Settings
from consumers.decider.intake import Consumed
from consumers.executor.executor import Outcome
from domain.agent import Agent
from domain.events.decisions import DecisionOutcome, Obligations
from domain.ids import agent_aggregate_id, rejection_id
from domain.rejection import ProposalRejection
from domain.values import ResourceRef
from infra.connectors.base import Applied, Connector, Mutation
from infra.connectors.registry import Connectors
from infra.ledger.ledger import Ledger
from tests.decider_helpers import proposal, register
from tests.execution_helpers import executor, resource

pytestmark = pytest.mark.integration


@dataclasses.dataclass
class Costing:
    """A real connector whose calls report a cost (as a metered API would)."""

    inner: Connector
    cost: Decimal

    def apply(self, mutation: Mutation, key: str, expected: str | None) -> Applied:
        """Apply through the real system and report ``cost``."""
        return dataclasses.replace(self.inner.apply(mutation, key, expected), cost=self.cost)

    def __getattr__(self, name: str) -> Any:  # whatever the real one has
        """Everything else is the real connector's."""
        return getattr(self.inner, name)


def _spend_through_executor(
    the_ledger: Ledger, systems: Connectors, agent_id: str, estimate: str, reported: str
) -> None:
    """An allowed action with ``estimate`` reserved, executed at a reported cost."""
    key = f"spend-{uuid.uuid4().hex}"  # action ids are idempotency keys in the shared CRM
    target = proposal(
        agent_id,
        key,
        resource=ResourceRef.parse(resource("crm", "contact")),
        estimated_cost=Decimal(estimate),
    )
    obligations = Obligations(approvals_required=0, approver_roles=[], approval_ttl_seconds=None,
                              budget_reservation=Decimal(estimate), extra={})  # fmt: skip
    with the_ledger.batch(system_context()) as tx:
        aid, _ = tx.propose(target)
        tx.decide(aid, outcome=DecisionOutcome.ALLOW, reasons=[], obligations=obligations,
                  bundle_digest="b" * 64, bundle_version="test", input_digest="i" * 64,
                  effect="update")  # fmt: skip
    costing = Costing(systems["crm"], Decimal(reported))
    the_executor = executor(the_ledger, systems)
    the_executor._connector_for = lambda _system: costing  # noqa: SLF001  # the metered system
    assert the_executor.execute(aid) is Outcome.APPLIED


def test_settled_costs_count_and_the_next_proposal_over_the_limit_is_rejected_before_policy(
    isolated: Settings, own_ledger: Ledger, systems: Connectors
) -> None:
    """Estimated 300, the CRM reports 450: 450 is spent; 100 more of 500 is refused, 50 is not."""
    register(own_ledger, "spender", budget=500)
    _spend_through_executor(own_ledger, systems, "spender", estimate="300", reported="450")
    agent: object = own_ledger.repository.get(agent_aggregate_id("spender"))
    assert isinstance(agent, Agent)
    assert (agent.reserved, agent.spend(agent.modified_on)[0].settled) == (Decimal(0), Decimal(450))
    serde = topic_serdes(isolated, "proposals.v1")["proposals.v1"]
    over = Consumed(serde.topic, 0, 0, b"k", serde.serialize(
        proposal("spender", "over", estimated_cost=Decimal(100))), {})  # fmt: skip
    under = Consumed(serde.topic, 0, 1, b"k", serde.serialize(
        proposal("spender", "under", estimated_cost=Decimal(50))), {})  # fmt: skip
    tally = decider(isolated, own_ledger).handle([over, under])
    assert (tally.rejected, sum(tally.decided.values())) == (1, 1)
    rejection: object = own_ledger.repository.get(rejection_id(over.source))
    assert isinstance(rejection, ProposalRejection)
    assert rejection.reason.code == "budget_exceeded"
    assert "450.0000 settled" in rejection.reason.message


def test_concurrent_deciders_never_reserve_past_the_limit(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """Three deciders (own ledgers, caches and connections) race 30 proposals of 100 on 1000.

    Exactly ten are reserved; the rest are rejected as over budget, none decided past it.
    """
    register(own_ledger, "racer", budget=1000)
    serde = topic_serdes(isolated, "proposals.v1")["proposals.v1"]
    deciders = [decider(isolated) for _ in range(3)]
    start = threading.Barrier(len(deciders))
    tallies: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def race(index: int) -> None:
        try:
            start.wait(30)
            for offset in range(10):
                record = proposal("racer", f"r{index}-{offset}", estimated_cost=Decimal(100))
                consumed = Consumed(serde.topic, index, offset, b"k", serde.serialize(record), {})
                tally = deciders[index].handle([consumed])
                tallies.append((sum(tally.decided.values()), tally.rejected))
        except BaseException as exc:  # noqa: BLE001  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(deciders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for one in deciders:
        one.ledger.close()
    assert errors == []
    assert sum(d for d, _ in tallies) == 10
    assert sum(r for _, r in tallies) == 20
    agent: object = own_ledger.repository.get(agent_aggregate_id("racer"))
    assert isinstance(agent, Agent)
    assert agent.reserved == Decimal(1000)
