"""1,000 actions raced by approvers, revokers, the expirer and two executors at once."""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

import pytest

from agentledger.bootstrap import context_at
from consumers.expirer.expirer import Expirer
from domain.errors import DomainError
from domain.values import ResourceRef
from infra.connectors.registry import Connectors
from infra.ledger.ledger import Ledger
from tests.execution_helpers import (
    ALICE,
    BOB,
    Clock,
    agent,
    decide,
    desk,
    event_names,
    executor,
    resource,
)

pytestmark = pytest.mark.integration
ACTIONS = 1000


def _each(
    ids: list[UUID], work: Callable[[UUID], object], seed: int, until: threading.Event | None = None
) -> Callable[[], None]:
    """Apply ``work`` to every id in a seeded order (again and again until ``until`` is set)."""
    order = random.Random(seed).sample(ids, len(ids))  # noqa: S311  # a shuffle, not a secret

    def run() -> None:
        while True:
            last_round = until is None or until.is_set()
            for aid in order:
                with contextlib.suppress(DomainError, LookupError):
                    work(aid)
            if last_round:
                return

    return run


def test_no_execution_ever_follows_a_revocation_or_an_expiry(
    own_ledger: Ledger, systems: Connectors
) -> None:
    """Whatever order the races resolve in, no action executes after Revoked or ApprovalExpired, nor twice."""
    agent_id = agent(own_ledger)
    clock = Clock()
    ids = [
        decide(own_ledger, agent_id, resource("billing", "invoice"), ttl=300, at=clock.now)
        for _ in range(ACTIONS)
    ]
    the_desk = desk(own_ledger, systems)
    revoked = random.Random(7).sample(ids, ACTIONS // 3)  # noqa: S311  # a sample, not a secret
    late = Clock()
    late.advance(301)
    expirer = Expirer(own_ledger, late, context_at)
    done = threading.Event()

    def expire_until_done() -> None:
        while not done.is_set():
            expirer.run_once()

    deciders = [
        _each(ids, lambda aid: the_desk.approve(ALICE, aid), 1),
        _each(ids, lambda aid: the_desk.approve(BOB, aid), 2),
        _each(revoked, lambda aid: the_desk.revoke(BOB, aid, "race"), 3),
    ]
    executors = [_each(ids, executor(own_ledger, systems).execute, seed, done) for seed in (4, 5)]
    threads = [threading.Thread(target=run) for run in deciders]
    others = [threading.Thread(target=run) for run in [*executors, expire_until_done]]
    for thread in [*threads, *others]:
        thread.start()
    for thread in threads:
        thread.join(600)
    done.set()
    for thread in others:
        thread.join(600)
    outcomes: dict[str, int] = {}
    for aid in ids:
        names = event_names(own_ledger, aid)
        ends = [i for i, n in enumerate(names) if n in {"Revoked", "ApprovalExpired"}]
        started = [i for i, n in enumerate(names) if n == "ExecutionStarted"]
        assert not (ends and started and max(started) > min(ends)), names
        assert len(started) <= 1, names
        outcomes[names[-1]] = outcomes.get(names[-1], 0) + 1
    assert sum(outcomes.values()) == ACTIONS
    assert {"MutationApplied", "ApprovalExpired"} <= set(outcomes), outcomes
    assert timedelta(0) < late.now - clock.now


def test_the_racing_executors_applied_each_change_at_most_once(
    own_ledger: Ledger, systems: Connectors
) -> None:
    """Two executors on the same 200 authorized actions: each resource changed exactly once."""
    agent_id = agent(own_ledger)
    refs = [resource("billing", "invoice") for _ in range(200)]
    ids = [decide(own_ledger, agent_id, key) for key in refs]
    the_desk = desk(own_ledger, systems)
    for aid in ids:
        the_desk.approve(ALICE, aid)
    threads = [
        threading.Thread(target=_each(ids, executor(own_ledger, systems).execute, seed))
        for seed in (1, 2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    billing = systems["billing"]
    for key in refs:
        ref = ResourceRef.parse(key)
        assert billing.current(ref).version == "1", key
