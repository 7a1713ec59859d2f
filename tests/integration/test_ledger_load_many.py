"""Loading many aggregates in one query gives exactly what loading each one gives."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from agentledger.bootstrap import system_context
from domain.agent import Agent
from domain.ids import agent_aggregate_id
from infra.ledger.ledger import Ledger
from tests.decider_helpers import register

pytestmark = pytest.mark.integration


def _reserve(the_ledger: Ledger, agent_id: str, times: int) -> None:
    with the_ledger.batch(system_context()) as tx:
        agent = tx.agent(agent_id)
        for _ in range(times):
            agent.reserve(tx.ctx, action_id=uuid4(), amount=Decimal(1))


def test_load_many_matches_loading_one_by_one_and_fast_forwards_cached_copies(
    own_ledger: Ledger,
) -> None:
    """Fresh, cached-then-changed and missing aggregates: same versions and state as repository.get; copies are private."""
    for name in ("a", "b", "c"):
        register(own_ledger, name, budget=100)
    _reserve(own_ledger, "a", 3)
    ids = {agent_aggregate_id(name) for name in ("a", "b", "c", "never-registered")}
    first = own_ledger.load_many(ids)
    assert set(first) == ids - {agent_aggregate_id("never-registered")}
    _reserve(own_ledger, "a", 2)  # saved after "a" was cached
    _reserve(own_ledger, "c", 1)
    again = own_ledger.load_many(ids)
    for aggregate_id, loaded in again.items():
        fresh: Agent = own_ledger.repository.get(aggregate_id, deepcopy_from_cache=False)
        assert (loaded.version, loaded.reserved, loaded.last_hash) == (
            fresh.version,
            fresh.reserved,
            fresh.last_hash,
        )
    assert again[agent_aggregate_id("a")].reserved == Decimal(5)
    again[agent_aggregate_id("b")].budget.reservations[uuid4()] = Decimal(50)  # a private copy
    assert own_ledger.load_many({agent_aggregate_id("b")})[agent_aggregate_id("b")].reserved == 0
