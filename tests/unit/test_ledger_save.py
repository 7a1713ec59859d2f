"""The ledger saves aggregates' events in order, whichever way they reach ``save``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from agentledger.bootstrap import catalog
from domain.action import Action
from domain.context import CommandContext
from domain.events.decisions import DecisionOutcome
from infra.ledger.ledger import Ledger
from tests.domain_helpers import obligations, proposal

pytestmark = pytest.mark.unit


def _context() -> CommandContext:
    return CommandContext(
        now=datetime(2026, 1, 1, tzinfo=UTC), new_id=uuid.uuid4, correlation_id=uuid.uuid4()
    )


def test_saved_aggregates_read_back_with_every_event_and_nothing_left_pending() -> None:
    """Several aggregates in one save: each reads back at its version, events in order."""
    ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"}, catalog())
    ctx = _context()
    first = Action.propose(ctx, uuid.uuid4(), proposal("k1"))
    second = Action.propose(ctx, uuid.uuid4(), proposal("k2"))
    first.decide(
        ctx, outcome=DecisionOutcome.ALLOW, reasons=[], obligations=obligations(),
        bundle_digest="b" * 64, bundle_version="1", input_digest="i" * 64,
        resource_version=None, agent_active=True,
    )  # fmt: skip
    ledger.save(first, second)
    assert not first.pending_events
    assert not second.pending_events
    for action in (first, second):
        back: Action = ledger.repository.get(action.id)
        assert (back.version, back.status, back.last_hash) == (
            action.version, action.status, action.last_hash,
        )  # fmt: skip
    logged = [
        (n.originator_id, n.originator_version) for n in ledger.notification_log.select(1, 10)
    ]
    assert logged == [(first.id, 1), (first.id, 2), (first.id, 3), (second.id, 1)]


def test_a_save_of_anything_but_aggregates_goes_the_librarys_way() -> None:
    """None and pending events passed alone are handled as eventsourcing handles them."""
    ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"}, catalog())
    action = Action.propose(_context(), uuid.uuid4(), proposal("k1"))
    events = action.collect_events()
    ledger.save(None, *events)
    assert ledger.repository.get(action.id).version == 1
